# Build speed (perf/RESULTS.md, "build and CI time"): the linker and the amount of debug
# information. Neither changes the machine code that is generated.

# The linker. Every test program and server links the static libraries with their debug
# information; GNU ld spends seconds on each, mold and lld a fraction of that.
include(CheckLinkerFlag)
set(_ix_linkers ${IX_LINKER})
if(IX_LINKER STREQUAL "auto")
  set(_ix_linkers mold lld)
elseif(NOT IX_LINKER MATCHES "^(mold|lld|bfd|default)$")
  message(FATAL_ERROR "IX_LINKER must be auto, mold, lld, bfd or default, not \"${IX_LINKER}\"")
endif()
set(IX_LINKER_USED default)
foreach(_ix_linker IN LISTS _ix_linkers)
  if(_ix_linker STREQUAL "default")
    break()
  endif()
  string(TOUPPER ${_ix_linker} _ix_linker_var)
  check_linker_flag(CXX -fuse-ld=${_ix_linker} IX_HAVE_LD_${_ix_linker_var})
  if(IX_HAVE_LD_${_ix_linker_var})
    add_link_options(-fuse-ld=${_ix_linker})
    set(IX_LINKER_USED ${_ix_linker})
    break()
  elseif(NOT IX_LINKER STREQUAL "auto")
    message(FATAL_ERROR "IX_LINKER=${IX_LINKER}: ${CMAKE_CXX_COMPILER} cannot link with -fuse-ld=${_ix_linker} "
                        "(scripts/install-deps.sh installs mold)")
  endif()
endforeach()
message(STATUS "ixcluster: linker ${IX_LINKER_USED}")

# Line tables only: comes after the build type's -g on the command line, so it wins.
if(IX_LINES_DEBUG)
  add_compile_options(-g1)
endif()
