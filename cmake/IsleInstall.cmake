# cmake --install: isle.h, libisle.a, libisle.so, a CMake package giving
# isle::isle (shared) and isle::isle_static, and isle.pc for pkg-config.
include(CMakePackageConfigHelpers)

install(TARGETS isle_static isle_shared EXPORT isleTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT isleTargets NAMESPACE isle::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/isle)

# The exported names are isle::isle_shared and isle::isle_static; the
# config file adds isle::isle as the name users link.
configure_package_config_file(cmake/isleConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/isleConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/isle)
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/isleConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/isleConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/isleConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/isle)

# isle.pc finds its prefix relative to itself, so an install with
# `cmake --install --prefix DIR` works wherever DIR is.
file(RELATIVE_PATH ISLE_PC_TO_PREFIX
  /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(cmake/isle.pc.in ${CMAKE_CURRENT_BINARY_DIR}/isle.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/isle.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
