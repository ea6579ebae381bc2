# Install rules for beanpole: headers, the libraries of the layers (beanpole::proto, ::client,
# ::async, ::worker and the umbrella beanpole::beanpole), a CMake package (beanpoleConfig.cmake,
# beanpoleConfigVersion.cmake, beanpoleTargets.cmake, FindAsio.cmake), a pkg-config file per
# layer (beanpole-proto.pc, beanpole-client.pc, beanpole-async.pc, beanpole-worker.pc, and
# beanpole.pc for all of them) and,
# when it is part of the build, the command-line tool with its man page and shell completions.
#
# Included at the end of the top-level CMakeLists.txt when BEANPOLE_INSTALL is ON, after every
# subdirectory, so that the targets exist. `cmake --install build --prefix DIR` and DESTDIR both
# work: the CMake package finds its prefix from its own location, and beanpole.pc gets the prefix
# given at install time.
#
# Components, for packagers (`cmake --install build --component ...`):
#   beanpole_runtime      the shared libraries (when BUILD_SHARED_LIBS) and the CLI with its docs
#   beanpole_development  headers, the static libraries or the .so namelinks, CMake and pkg-config

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

# --------------------------------------------------------------------------------- libraries
# The include directory of the installed targets comes from their INSTALL_INTERFACE.
list(TRANSFORM BEANPOLE_LAYERS PREPEND beanpole_ OUTPUT_VARIABLE _beanpole_layer_targets)
install(TARGETS ${_beanpole_layer_targets} beanpole EXPORT beanpoleTargets
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
# The prefix in the .pc files is the one the tree is installed to, which is only known at install
# time (`cmake --install build --prefix DIR` overrides CMAKE_INSTALL_PREFIX). So each is
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
# One file per layer, each requiring the layer below (so static links come out in order), and
# beanpole.pc for everything. Only beanpole-async.pc (and what requires it) brings Asio's macros.
function(_beanpole_pc name what requires libs libs_private cflags)
  set(BEANPOLE_PC_NAME "${name}")
  set(BEANPOLE_PC_WHAT "${what}")
  set(BEANPOLE_PC_REQUIRES "${requires}")
  set(BEANPOLE_PC_LIBS "${libs}")
  set(BEANPOLE_PC_LIBS_PRIVATE "${libs_private}")
  set(BEANPOLE_PC_CFLAGS "${cflags}")
  configure_file("${CMAKE_CURRENT_FUNCTION_LIST_DIR}/beanpole.pc.in"
                 "${PROJECT_BINARY_DIR}/pkgconfig/${name}.pc.in" @ONLY)
  set(_beanpole_pc_names ${_beanpole_pc_names} ${name} PARENT_SCOPE)
endfunction()
set(_beanpole_pc_names "")
set(BEANPOLE_PC_REQUIRES_PRIVATE "")
set(_beanpole_libs "-L\${libdir} -lbeanpole")
_beanpole_pc(beanpole-proto "codec" "" "${_beanpole_libs}-proto" "" "")
# The client links OpenSSL privately (tls:// endpoints): static links need it, through
# Requires.private.
set(BEANPOLE_PC_REQUIRES_PRIVATE "libssl libcrypto")
_beanpole_pc(beanpole-client "blocking client" beanpole-proto "${_beanpole_libs}-client" -pthread "")
set(BEANPOLE_PC_REQUIRES_PRIVATE "")
_beanpole_pc(beanpole-async "Asio async client" beanpole-client "${_beanpole_libs}-async" -pthread
             " -DASIO_STANDALONE -DASIO_NO_DEPRECATED")
# The worker links cpp-httplib privately (its metrics endpoint): static links need it too.
set(BEANPOLE_PC_REQUIRES_PRIVATE "cpp-httplib")
_beanpole_pc(beanpole-worker "worker" beanpole-async "${_beanpole_libs}-worker" "" "")
set(BEANPOLE_PC_REQUIRES_PRIVATE "")
_beanpole_pc(beanpole "all layers" beanpole-worker "" "" "")
unset(_beanpole_libs)
if(IS_ABSOLUTE "${BEANPOLE_INSTALL_PKGCONFIGDIR}")
  set(_beanpole_pc_dest "${BEANPOLE_INSTALL_PKGCONFIGDIR}")
else()
  set(_beanpole_pc_dest "\${CMAKE_INSTALL_PREFIX}/${BEANPOLE_INSTALL_PKGCONFIGDIR}")
endif()
# The finished files go to a directory of their own per destination, so that installs of one
# build to several prefixes at once do not race.
install(CODE "
  string(MD5 _beanpole_pc_key \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}\")
  foreach(_beanpole_pc_name ${_beanpole_pc_names})
    set(_beanpole_pc \"${PROJECT_BINARY_DIR}/pkgconfig/\${_beanpole_pc_key}/\${_beanpole_pc_name}.pc\")
    configure_file(\"${PROJECT_BINARY_DIR}/pkgconfig/\${_beanpole_pc_name}.pc.in\" \"\${_beanpole_pc}\" @ONLY)
    file(INSTALL DESTINATION \"${_beanpole_pc_dest}\" TYPE FILE FILES \"\${_beanpole_pc}\")
  endforeach()
  " COMPONENT beanpole_development)
unset(_beanpole_pc_dest)

# ------------------------------------------------------------------------- command-line tool
# Defined in cli/ (OUTPUT_NAME beanpole) when BEANPOLE_BUILD_CLI is ON, with its man page
# (BEANPOLE_MANPAGE) and the shell completions.
if(TARGET beanpole-cli)
  set(BEANPOLE_MANPAGE "${PROJECT_BINARY_DIR}/cli/beanpole.1")  # as cli/CMakeLists.txt makes it
  install(TARGETS beanpole-cli RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
          COMPONENT beanpole_runtime)
  # The build makes the man page with the binary (cli/CMakeLists.txt); should it be missing
  # (deleted, or a build older than that rule), it is made here from the built binary, so that
  # an install never leaves an empty man directory.
  install(CODE "
    if(NOT EXISTS \"${BEANPOLE_MANPAGE}\")
      message(STATUS \"Generating ${BEANPOLE_MANPAGE}\")
      execute_process(COMMAND \"${CMAKE_COMMAND}\" \"-DBEANPOLE_EXE=$<TARGET_FILE:beanpole-cli>\"
                              \"-DOUTPUT=${BEANPOLE_MANPAGE}\" \"-DVERSION=${PROJECT_VERSION}\"
                              -P \"${PROJECT_SOURCE_DIR}/cli/gen_manpage.cmake\"
                      RESULT_VARIABLE _beanpole_manpage_rc)
      if(NOT _beanpole_manpage_rc EQUAL 0)
        message(FATAL_ERROR \"cannot generate the man page (build the beanpole-cli target first)\")
      endif()
    endif()
    " COMPONENT beanpole_runtime)
  install(FILES "${BEANPOLE_MANPAGE}"
          DESTINATION "${CMAKE_INSTALL_MANDIR}/man1"
          COMPONENT beanpole_runtime)
  install(FILES "${PROJECT_SOURCE_DIR}/cli/completions/beanpole.bash"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
          RENAME beanpole
          COMPONENT beanpole_runtime OPTIONAL)
  install(FILES "${PROJECT_SOURCE_DIR}/cli/completions/_beanpole"
          DESTINATION "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions"
          COMPONENT beanpole_runtime OPTIONAL)
endif()
