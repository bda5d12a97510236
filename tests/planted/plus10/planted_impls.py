"""The planted impl with a clear regression: two more loads per item (about +10% on 3.11)."""


async def planted(n):
    for i in range(n):
        i  # noqa: B018 - the planted extra work
        i  # noqa: B018
        yield i


IMPLS = {"planted": {"family": "asyncgen", "workloads": {"none": planted}}}
