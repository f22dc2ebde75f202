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

# ISLE_ASSERT is on in Debug builds; ISLE_VERIFY is always on.
add_compile_definitions($<$<CONFIG:Debug>:ISLE_DEBUG=1>)

function(isle_target_flags target)
  target_compile_options(${target} PRIVATE ${ISLE_WARNINGS})
endfunction()
