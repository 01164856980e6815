# The libFuzzer build (CELLHUB_FUZZ=ON): clang's -fsanitize=fuzzer for the fuzz targets and
# coverage instrumentation (fuzzer-no-link) for every library they reach. Combine it with
# CELLHUB_SANITIZERS=address,undefined, as scripts/test's fuzz stage does (docs/testing.md).

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "CELLHUB_FUZZ needs clang (libFuzzer); configure with "
                      "-DCMAKE_CXX_COMPILER=clang++-14")
endif()

# Seconds each fuzzer runs under `ctest -L fuzz`; raise it to fuzz longer from CTest.
set(CELLHUB_FUZZ_SECONDS 30 CACHE STRING "Seconds each fuzz target runs under ctest -L fuzz")
# Memory cap per fuzzer process; a target that needs more is a finding.
set(CELLHUB_FUZZ_RSS_MB 2048 CACHE STRING "RSS limit (MB) of each fuzz run")

add_compile_options(-fsanitize=fuzzer-no-link)
