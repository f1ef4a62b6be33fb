# Writes OUT (a C++ source defining normlab::build_commit) from the git state of
# SRC, at build time, every build: "<12-hex HEAD>", "<12-hex HEAD>-dirty" when a
# tracked file outside results/ differs from HEAD, or "unknown" without git.
# configure_file leaves OUT untouched when its text is unchanged, so a build with
# the same state recompiles nothing.
#   cmake -DSRC=<source dir> -DOUT=<file.cpp> -P commit_stamp.cmake
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY "${SRC}"
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT commit)
  set(commit "unknown")
else()
  # results/ is data the binary writes, not source: a claims run in progress must
  # not mark the binary it runs as built from changed sources.
  execute_process(COMMAND git status --porcelain --untracked-files=no -- . ":(exclude)results"
                  WORKING_DIRECTORY "${SRC}" OUTPUT_VARIABLE changed ERROR_QUIET RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR changed)
    string(APPEND commit "-dirty")
  endif()
endif()
set(NORMLAB_GIT_COMMIT "${commit}")
configure_file("${CMAKE_CURRENT_LIST_DIR}/build_commit.cpp.in" "${OUT}" @ONLY)
