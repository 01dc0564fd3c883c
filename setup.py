"""Builds int4pack._int4pack with the project's CMake (the ISA kernels need their own compiler flags,
which only the CMake build knows) and puts it, with the engine's libint4pack.so beside it, into the
package. Configuration: INT4PACK_CMAKE_ARGS (extra -D options), INT4PACK_BUILD_JOBS."""
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.path.join(os.path.abspath(self.build_temp), "cmake")
        os.makedirs(build, exist_ok=True)
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                               "-DINT4PACK_BUILD_PYTHON=ON", "-DINT4PACK_BUILD_TESTS=OFF",
                               "-DINT4PACK_BUILD_TOOLS=OFF", "-DPython_EXECUTABLE=" + sys.executable]
                              + os.environ.get("INT4PACK_CMAKE_ARGS", "").split())
        subprocess.check_call(["cmake", "--build", build, "--target", "_int4pack", "-j",
                               os.environ.get("INT4PACK_BUILD_JOBS", str(os.cpu_count() or 2))])
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        built = [f for f in os.listdir(build) if f.startswith("_int4pack") and f.endswith(".so")]
        if len(built) != 1:
            raise RuntimeError("the CMake build made %r, not one _int4pack module" % built)
        shutil.copyfile(os.path.join(build, built[0]), target)
        shutil.copyfile(os.path.join(build, "libint4pack.so"), os.path.join(os.path.dirname(target), "libint4pack.so"))


setup(ext_modules=[Extension("int4pack._int4pack", sources=[])], cmdclass={"build_ext": CMakeBuild})
