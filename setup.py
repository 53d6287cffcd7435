"""Build script for fastrace's Cython extensions.

Compiler directives live here and only here.  Set FASTRACE_DEBUG=1 when
building to turn bounds checking, wraparound checks, line tracing and the
address/undefined-behaviour sanitizers back on.
"""

import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("FASTRACE_DEBUG", "") not in ("", "0")

directives = {
    "language_level": 3,
    "embedsignature": True,
    # Indexes that come from the file are checked explicitly in the code,
    # never by these switches; they only guard fastrace's own indexing.
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": True,
    "linetrace": DEBUG,
}

compile_args = ["-O3"] if not DEBUG else ["-O1", "-g", "-fno-omit-frame-pointer"]
link_args = []
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if DEBUG:
    macros.append(("CYTHON_TRACE_NOGIL", "1"))
    if sys.platform.startswith("linux"):
        compile_args += ["-fsanitize=address,undefined"]
        link_args += ["-fsanitize=address,undefined"]

extensions = [
    Extension(
        f"fastrace.{name}",
        [f"fastrace/{name}.pyx"],
        include_dirs=[np.get_include()],
        define_macros=macros,
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )
    for name in ("_varint", "_order", "_analysis")
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=DEBUG,
    ),
)
