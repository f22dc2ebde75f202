# Dependencies come from Debian packages.  A missing one stops the configure
# step with the name of the package that provides it.
find_package(PkgConfig QUIET)
find_package(Threads REQUIRED)

function(isle_require_lib var header lib package)
  find_path(${var}_INCLUDE_DIR ${header})
  find_library(${var}_LIBRARY ${lib})
  if(NOT ${var}_INCLUDE_DIR OR NOT ${var}_LIBRARY)
    message(FATAL_ERROR
      "isle needs ${header} and lib${lib}: install the Debian package "
      "'${package}' (apt-get install -y ${package})")
  endif()
  add_library(isle_dep_${lib} INTERFACE IMPORTED GLOBAL)
  set_target_properties(isle_dep_${lib} PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${${var}_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${${var}_LIBRARY}")
endfunction()

isle_require_lib(XXHASH xxhash.h xxhash libxxhash-dev)
isle_require_lib(ZSTD zstd.h zstd libzstd-dev)

if(ISLE_BUILD_TESTS)
  isle_require_lib(CRITERION criterion/criterion.h criterion libcriterion-dev)
endif()
