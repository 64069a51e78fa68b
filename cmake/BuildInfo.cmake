# Build identity (protocol/build_info.h): the project version and the git commit of the source
# tree, read at configure time. CMake re-runs the configure step when HEAD moves (a commit, a
# checkout), so a rebuild after a commit reports the new commit. Outside a git checkout the
# commit is "unknown".

set(IX_BUILD_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(
    COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    OUTPUT_VARIABLE _ix_commit OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE _ix_git_result ERROR_QUIET)
  if(_ix_git_result EQUAL 0 AND _ix_commit MATCHES "^[0-9a-f]+$")
    set(IX_BUILD_COMMIT ${_ix_commit})
    # Re-configure when HEAD or the branch it points to moves.
    execute_process(
      COMMAND ${GIT_EXECUTABLE} rev-parse --absolute-git-dir
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE _ix_git_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    execute_process(
      COMMAND ${GIT_EXECUTABLE} rev-parse --symbolic-full-name HEAD
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE _ix_git_ref OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    execute_process(
      COMMAND ${GIT_EXECUTABLE} rev-parse --path-format=absolute --git-common-dir
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE _ix_git_common OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(EXISTS "${_ix_git_dir}/HEAD")
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_ix_git_dir}/HEAD")
    endif()
    if(_ix_git_ref MATCHES "^refs/" AND EXISTS "${_ix_git_common}/${_ix_git_ref}")
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_ix_git_common}/${_ix_git_ref}")
    endif()
  endif()
endif()
message(STATUS "ixcluster ${PROJECT_VERSION}, commit ${IX_BUILD_COMMIT}")
