"""The planted impl, as it was: an async generator over 0..n-1."""


async def planted(n):
    for i in range(n):
        yield i


IMPLS = {"planted": {"family": "asyncgen", "workloads": {"none": planted}}}
