__version__ = "0.3.0"
#: Version of the result file format (stored as ``aiterbench_format`` in each benchmark's metadata).
#: 1: timings. 2: workers start from a clean environment and record it (``aiterbench_environ``);
#: ``aiterbench_kind: count`` marks instruction counts; ``aiterbench_side`` names an ``ab`` side.
#: 3: ``ab`` stops each cell at a planned look (``aiterbench_sequential`` holds the design): a reader of
#: format 2 (0.2.0) would judge such a file at a fixed 95% instead, so it must refuse it.
FORMAT_VERSION = 3
#: Every format this version reads (format 1 files have no recorded worker environment).
READS_FORMATS = (1, 2, 3)
