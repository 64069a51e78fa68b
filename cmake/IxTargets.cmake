# Helpers that give every ixcluster target the same compiler settings.

set(IX_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
if(IX_WERROR)
  list(APPEND IX_WARNINGS -Werror)
endif()

# ix_target_defaults(target): warnings (as errors) for our own sources.
function(ix_target_defaults target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${IX_WARNINGS}>)
endfunction()

# ix_add_library(name SOURCES...): a static library of ours.
function(ix_add_library name)
  add_library(${name} STATIC ${ARGN})
  ix_target_defaults(${name})
endfunction()

# ix_add_server(name SOURCES...): a long-running server process (ixnode, ixproxy). Servers link
# mimalloc first so that it replaces malloc/free and new/delete for the whole process.
function(ix_add_server name)
  add_executable(${name} ${ARGN})
  ix_target_defaults(${name})
  if(IX_SANITIZE)
    # ASan must own the allocator; mimalloc would hide every heap error from it.
    return()
  endif()
  target_link_libraries(${name} PRIVATE -Wl,--no-as-needed mimalloc -Wl,--as-needed)
endfunction()

# ix_add_test(name SOURCES... LIBS libs...): a GoogleTest program registered with CTest.
function(ix_add_test name)
  cmake_parse_arguments(T "" "" "LIBS" ${ARGN})
  add_executable(${name} ${T_UNPARSED_ARGUMENTS})
  ix_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 PROPERTIES TIMEOUT 120)
endfunction()
