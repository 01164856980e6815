# FindCAF.cmake — locates the C++ Actor Framework (CAF) 0.17 as Debian ships it
# (headers plus libcaf_core.so / libcaf_io.so / libcaf_openssl.so, no CMake
# package config).
#
# Creates the imported targets:
#   CAF::core     libcaf_core, with its include directory and Threads
#   CAF::io       libcaf_io, depending on CAF::core
#   CAF::openssl  libcaf_openssl (package libcaf-openssl0.17), depending on
#                 CAF::io and OpenSSL::SSL; only when the library is found.
#                 Ask for it with `find_package(CAF 0.17 REQUIRED COMPONENTS openssl)`.
# and sets CAF_FOUND, CAF_VERSION, CAF_INCLUDE_DIR, CAF_openssl_FOUND.

include(FindPackageHandleStandardArgs)

find_package(Threads REQUIRED)

find_path(CAF_INCLUDE_DIR caf/all.hpp)
find_library(CAF_CORE_LIBRARY caf_core)
find_library(CAF_IO_LIBRARY caf_io)
find_library(CAF_OPENSSL_LIBRARY caf_openssl)

if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  if(_caf_version_line MATCHES "CAF_VERSION ([0-9]+)")
    math(EXPR _caf_major "${CMAKE_MATCH_1} / 10000")
    math(EXPR _caf_minor "(${CMAKE_MATCH_1} / 100) % 100")
    math(EXPR _caf_patch "${CMAKE_MATCH_1} % 100")
    set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
  endif()
endif()

# The OpenSSL module: its library, its headers (caf/openssl/, in libcaf-dev) and
# OpenSSL's own headers, which caf/openssl/session.hpp includes.
set(CAF_openssl_FOUND FALSE)
if(CAF_OPENSSL_LIBRARY AND CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/openssl/all.hpp")
  find_package(OpenSSL QUIET)
  if(OpenSSL_FOUND)
    set(CAF_openssl_FOUND TRUE)
  endif()
endif()

find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_CORE_LIBRARY CAF_IO_LIBRARY CAF_INCLUDE_DIR
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)

if(CAF_FOUND AND NOT TARGET CAF::core)
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io UNKNOWN IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::core)
endif()

if(CAF_FOUND AND CAF_openssl_FOUND AND NOT TARGET CAF::openssl)
  add_library(CAF::openssl UNKNOWN IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES
    IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
    INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL")
endif()

mark_as_advanced(CAF_INCLUDE_DIR CAF_CORE_LIBRARY CAF_IO_LIBRARY CAF_OPENSSL_LIBRARY)
