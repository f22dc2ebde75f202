# Compiler flags.  Our own targets get -Wall -Wextra -Werror through
# isle_target_flags(); the sanitizer choice applies to everything built here
# so that tests, examples and the library agree.
set(ISLE_WARNINGS -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
    -Wmissing-prototypes -Wvla -Wformat=2 -Wno-unused-parameter)

if(ISLE_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(ISLE_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT ISLE_SANITIZE STREQUAL "")
  message(FATAL_ERROR "ISLE_SANITIZE must be '', 'address' or 'thread'")
endif()

# A fuzzing build instruments every target for coverage (the codec most of
# all: a harness alone would give libFuzzer nothing to steer by).
if(ISLE_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ISLE_BUILD_FUZZ needs clang: configure with CC=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -g)
  add_link_options(-fsanitize=address,undefined)
endif()

# Release builds optimise across files at link time: the layers call each
# other through small functions (a scan's step, a record's decode) that
# inlining across the layer boundaries removes.  The objects also carry
# ordinary code (GCC's fat LTO objects), so the installed libisle.a links
# into programs built without LTO, or with another compiler.
option(ISLE_LTO "Link-time optimisation in Release builds" ON)
if(ISLE_LTO AND CMAKE_BUILD_TYPE STREQUAL "Release" AND ISLE_SANITIZE STREQUAL ""
   AND NOT ISLE_BUILD_FUZZ)
  include(CheckIPOSupported)
  check_ipo_supported(RESULT isle_ipo OUTPUT isle_ipo_why LANGUAGES C)
  if(isle_ipo)
    set(CMAKE_INTERPROCEDURAL_OPTIMIZATION ON)
    if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
      add_compile_options(-ffat-lto-objects)
    endif()
  else()
    message(STATUS "isle: no link-time optimisation: ${isle_ipo_why}")
  endif()
endif()

# ISLE_ASSERT is on in Debug builds; ISLE_VERIFY is always on.
add_compile_definitions($<$<CONFIG:Debug>:ISLE_DEBUG=1>)

function(isle_target_flags target)
  target_compile_options(${target} PRIVATE ${ISLE_WARNINGS})
endfunction()

# Under a sanitizer, a test whose output holds a sanitizer report fails,
# even when the process exits 0 (a leak found as a Criterion worker exits
# is otherwise not counted).  Called once per directory that adds tests;
# deferred to the end of that directory so every test is covered.
function(isle_guard_tests_now)
  get_property(tests DIRECTORY PROPERTY TESTS)
  if(ISLE_SANITIZE AND tests)
    set_tests_properties(${tests} PROPERTIES FAIL_REGULAR_EXPRESSION
      "(Address|Leak|Thread|UndefinedBehavior)Sanitizer|runtime error:")
  endif()
endfunction()
macro(isle_guard_tests)
  cmake_language(DEFER CALL isle_guard_tests_now)
endmacro()
