__version__ = "0.1.0"
#: Version of the result file format (stored as ``aiterbench_format`` in each benchmark's metadata).
FORMAT_VERSION = 1
