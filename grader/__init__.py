"""grader: grades Python multiprocessing assignments by observing the processes they create."""

__version__ = "0.2.0"
