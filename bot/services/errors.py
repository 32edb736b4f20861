"""Refusals a person is told about; raising one rolls the whole action back."""


class ServiceError(Exception):
    """A refusal whose message is safe and useful to show the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    pass


class Forbidden(ServiceError):
    pass


class Invalid(ServiceError):
    pass
