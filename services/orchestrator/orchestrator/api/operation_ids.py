"""Each operation's `operationId` in the OpenAPI document: its endpoint function's name in lowerCamelCase
(`upload_document` -> `uploadDocument`). Typed clients name their calls after these ids, so they follow
the function, never the route's module or path; see docs/api.md#typed-clients-for-frontends."""

from fastapi.routing import APIRoute


def camel_case(snake: str) -> str:
    first, *rest = snake.strip("_").split("_")
    return first + "".join(word[:1].upper() + word[1:] for word in rest)


def operation_id(route: APIRoute) -> str:
    return camel_case(route.name)
