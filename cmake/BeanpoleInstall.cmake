# Install rules for beanpole: headers, the library, a CMake package (beanpoleConfig.cmake,
# beanpoleConfigVersion.cmake, beanpoleTargets.cmake, FindAsio.cmake), a pkg-config file and,
# when it is part of the build, the command-line tool with its man page and shell completions.
#
# Included at the end of the top-level CMakeLists.txt when BEANPOLE_INSTALL is ON, after every
# subdirectory, so that the targets exist. `cmake --install build --prefix DIR` and DESTDIR both
# work: the CMake package finds its prefix from its own location, and beanpole.pc gets the prefix
# given at install time.
#
# Components, for packagers (`cmake --install build --component ...`):
#   beanpole_runtime      the shared library (when BUILD_SHARED_LIBS) and the CLI with its docs
#   beanpole_development  headers, the static library or the .so namelink, CMake and pkg-config

include(CMakePackageConfigHelpers)

set(BEANPOLE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/beanpole" CACHE STRING
    "Where to install beanpole's CMake package files (relative to the prefix)")
set(BEANPOLE_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig" CACHE STRING
    "Where to install beanpole.pc (relative to the prefix)")
mark_as_advanced(BEANPOLE_INSTALL_CMAKEDIR BEANPOLE_INSTALL_PKGCONFIGDIR)

# ----------------------------------------------------------------------------------- headers
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/beanpole"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT beanpole_development
        PATTERN "*.in" EXCLUDE)
install(FILES "${PROJECT_BINARY_DIR}/include/beanpole/version.hpp"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/beanpole"
        COMPONENT beanpole_development)

# ----------------------------------------------------------------------------------- library
# The include directory of the installed target comes from its INSTALL_INTERFACE.
install(TARGETS beanpole EXPORT beanpoleTargets
        RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}" COMPONENT beanpole_runtime
        LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT beanpole_runtime
                NAMELINK_COMPONENT beanpole_development
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}" COMPONENT beanpole_development)

# ----------------------------------------------------------------------------- CMake package
install(EXPORT beanpoleTargets
        NAMESPACE beanpole::
        FILE beanpoleTargets.cmake
        DESTINATION "${BEANPOLE_INSTALL_CMAKEDIR}"
        COMPONENT beanpole_development)

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/beanpoleConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/cmake/beanpoleConfig.cmake"
  INSTALL_DESTINATION "${BEANPOLE_INSTALL_CMAKEDIR}"
  NO_SET_AND_CHECK_MACRO)
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/cmake/beanpoleConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)
# FindAsio.cmake goes next to the config, which puts that directory on CMAKE_MODULE_PATH only
# while it looks for Asio: consumers need not have (or know about) a FindAsio of their own.
install(FILES "${PROJECT_BINARY_DIR}/cmake/beanpoleConfig.cmake"
              "${PROJECT_BINARY_DIR}/cmake/beanpoleConfigVersion.cmake"
              "${CMAKE_CURRENT_LIST_DIR}/FindAsio.cmake"
        DESTINATION "${BEANPOLE_INSTALL_CMAKEDIR}"
        COMPONENT beanpole_development)

# ---------------------------------------------------------------------------------- pkg-config
# The prefix in beanpole.pc is the one the tree is installed to, which is only known at install
# time (`cmake --install build --prefix DIR` overrides CMAKE_INSTALL_PREFIX). So beanpole.pc.in is
# configured now with everything but the prefix, and finished by the install script.
function(_beanpole_pc_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
_beanpole_pc_dir(BEANPOLE_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
_beanpole_pc_dir(BEANPOLE_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
set(BEANPOLE_PC_PREFIX "@CMAKE_INSTALL_PREFIX@")  # left for the install script to fill in
configure_file("${CMAKE_CURRENT_LIST_DIR}/beanpole.pc.in"
               "${PROJECT_BINARY_DIR}/pkgconfig/beanpole.pc.in" @ONLY)
if(IS_ABSOLUTE "${BEANPOLE_INSTALL_PKGCONFIGDIR}")
  set(_beanpole_pc_dest "${BEANPOLE_INSTALL_PKGCONFIGDIR}")
else()
  set(_beanpole_pc_dest "\${CMAKE_INSTALL_PREFIX}/${BEANPOLE_INSTALL_PKGCONFIGDIR}")
endif()
# The finished file goes to a directory of its own per destination, so that installs of one
# build to several prefixes at once do not race.
install(CODE "
  string(MD5 _beanpole_pc_key \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  set(_beanpole_pc \"${PROJECT_BINARY_DIR}/pkgconfig/\${_beanpole_pc_key}/beanpole.pc\")
  configure_file(\"${PROJECT_BINARY_DIR}/pkgconfig/beanpole.pc.in\" \"\${_beanpole_pc}\" @ONLY)
  file(INSTALL DESTINATION \"${_beanpole_pc_dest}\" TYPE FILE FILES \"\${_beanpole_pc}\")
  " COMPONENT beanpole_development)
unset(_beanpole_pc_dest)

# ------------------------------------------------------------------------- command-line tool
# Defined in cli/ (OUTPUT_NAME beanpole) when BEANPOLE_BUILD_CLI is ON. The man page and the
# completions are optional: installed when they exist at install time.
if(TARGET beanpole-cli)
  install(TARGETS beanpole-cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
          COMPONENT beanpole_runtime)
  install(FILES "${PROJECT_BINARY_DIR}/cli/beanpole.1"
          DESTINATION "${CMAKE_INSTALL_MANDIR}/man1"
          COMPONENT beanpole_runtime OPTIONAL)
  install(FILES "${PROJECT_SOURCE_DIR}/cli/completions/beanpole.bash"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
          RENAME beanpole
          COMPONENT beanpole_runtime OPTIONAL)
  install(FILES "${PROJECT_SOURCE_DIR}/cli/completions/_beanpole"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions"
          COMPONENT beanpole_runtime OPTIONAL)
endif()
