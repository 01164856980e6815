# Helpers shared by every cellhub target.

# cellhub_set_warnings(target): the project's warning set, private to the target.
function(cellhub_set_warnings target)
  # Designated initializers that leave defaulted members out are the API's idiom
  # (add_peer_options{.peer_name = ...}); GCC would flag every one of them.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wconversion -Wshadow
    -Wno-missing-field-initializers)
  if(CELLHUB_WARNINGS_AS_ERRORS)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# cellhub_add_library(NAME layer SOURCES ... PUBLIC_LIBS ... PRIVATE_LIBS ...):
# one library per layer, exported as cellhub::<layer>, headers under
# <layer>/include/cellhub/<layer>/.
function(cellhub_add_library name)
  cmake_parse_arguments(arg "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  add_library(cellhub_${name} ${arg_SOURCES})
  add_library(cellhub::${name} ALIAS cellhub_${name})
  set_target_properties(cellhub_${name} PROPERTIES EXPORT_NAME ${name} OUTPUT_NAME cellhub_${name})
  target_compile_features(cellhub_${name} PUBLIC cxx_std_20)
  target_include_directories(cellhub_${name} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(cellhub_${name} PUBLIC ${arg_PUBLIC_LIBS} PRIVATE ${arg_PRIVATE_LIBS})
  cellhub_set_warnings(cellhub_${name})
  install(TARGETS cellhub_${name} EXPORT cellhub-targets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# cellhub_add_app(NAME name SOURCES ... LIBS ...): an installed executable.
function(cellhub_add_app name)
  cmake_parse_arguments(arg "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${arg_SOURCES})
  target_link_libraries(${name} PRIVATE ${arg_LIBS})
  cellhub_set_warnings(${name})
  install(TARGETS ${name} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endfunction()
