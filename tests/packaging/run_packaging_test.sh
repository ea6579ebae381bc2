#!/bin/sh
# Runs one packaging test; called by ctest (see CMakeLists.txt next to this file).
#
#   run_packaging_test.sh --mode=MODE --work-dir=DIR [--option=value ...]
#
# MODE is one of
#   install           cmake --install the main build into WORK_DIR/prefix
#   find_package      copy that prefix elsewhere (it must be relocatable), then configure, build
#                     and run consumer/ with find_package(beanpole CONFIG) and CMAKE_PREFIX_PATH:
#                     one program per layer and one for the umbrella
#   find_package_without_asio
#                     the same for the proto and client layers only, with Asio hidden from
#                     CMake (CMAKE_DISABLE_FIND_PACKAGE_Asio): a blocking-only user needs no Asio
#   add_subdirectory  configure, build and run consumer/ with add_subdirectory(SOURCE_DIR)
#   default_build     the targets scripts/demo.sh (the README's first command) builds make
#                     the man page: `ninja -t commands` of them includes its generation
#   pkg_config        compile and link consumer/<layer>.cpp with the compiler alone, using
#                     `pkg-config --cflags --libs beanpole-<layer>` (beanpole for the umbrella)
#                     from that prefix, then run it
#
# The proto and client programs are always compiled with a directory first on their include path
# whose Asio headers (one per header of the real Asio, --asio-include-dir) are all #error: they
# must build with Asio out of reach.
#
# Options (empty values are allowed and mean "not set"):
#   --build-dir --source-dir --install-dir (the prefix written by the install mode)
#   --cmake --generator --make-program --cxx --launcher --config --version --libdir
#   --library-type=STATIC_LIBRARY|SHARED_LIBRARY --build-shared-libs --pkg-config
#   --cxx-flags --config-flags --exe-linker-flags --shared-linker-flags --asio-include-dir
#   --mandir --datadir (install dirs, relative) --cli=ON (the tool is built) --manpage=FILE
#
# The compiler and the flags are those of the main build, sanitizer flags included, so that the
# consumer links with a library built with -fsanitize=... Exit code 77 means "skipped".
set -eu
set -f  # flags are split on spaces below, never globbed

mode='' work_dir='' build_dir='' source_dir='' install_dir='' cmake=cmake generator=''
make_program='' cxx='' launcher='' config='' version='' libdir=lib library_type=STATIC_LIBRARY
build_shared_libs='' pkg_config='' cxx_flags='' config_flags='' exe_linker_flags=''
shared_linker_flags='' asio_include_dir='' mandir=share/man datadir=share cli=OFF manpage=''
for arg in "$@"; do
  value=${arg#*=}
  case $arg in
    --mode=*) mode=$value ;;
    --work-dir=*) work_dir=$value ;;
    --build-dir=*) build_dir=$value ;;
    --source-dir=*) source_dir=$value ;;
    --install-dir=*) install_dir=$value ;;
    --cmake=*) cmake=$value ;;
    --generator=*) generator=$value ;;
    --make-program=*) make_program=$value ;;
    --cxx=*) cxx=$value ;;
    --launcher=*) launcher=$value ;;
    --config=*) config=$value ;;
    --version=*) version=$value ;;
    --libdir=*) libdir=$value ;;
    --library-type=*) library_type=$value ;;
    --build-shared-libs=*) build_shared_libs=$value ;;
    --pkg-config=*) pkg_config=$value ;;
    --cxx-flags=*) cxx_flags=$value ;;
    --config-flags=*) config_flags=$value ;;
    --exe-linker-flags=*) exe_linker_flags=$value ;;
    --shared-linker-flags=*) shared_linker_flags=$value ;;
    --asio-include-dir=*) asio_include_dir=$value ;;
    --mandir=*) mandir=$value ;;
    --datadir=*) datadir=$value ;;
    --cli=*) cli=$value ;;
    --manpage=*) manpage=$value ;;
    *) echo "run_packaging_test.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if [ -z "$mode" ] || [ -z "$work_dir" ]; then
  echo "run_packaging_test.sh: --mode and --work-dir are required" >&2
  exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
consumer_dir=$here/consumer

say() { printf '== %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

all_layers='proto client async worker beanpole'  # beanpole: the umbrella
no_asio_dir=$work_dir/no-asio

# Writes $no_asio_dir: for every header of the real Asio, one of the same name that is #error.
make_no_asio_dir() {
  if [ -z "$asio_include_dir" ] || [ ! -f "$asio_include_dir/asio.hpp" ]; then
    echo "--asio-include-dir must name the directory that holds asio.hpp" >&2
    exit 2
  fi
  mkdir -p "$no_asio_dir"
  (cd "$asio_include_dir" && find asio -type d) | (cd "$no_asio_dir" && xargs mkdir -p)
  (cd "$asio_include_dir" && find asio.hpp asio -type f) | while IFS= read -r header; do
    printf '#error "Asio header <%s> included by a consumer that must not need Asio"\n' \
      "$header" > "$no_asio_dir/$header"
  done
}

# Configures, builds and runs consumer/ in $work_dir/build for the layers in $1; extra cmake
# arguments are passed on.
build_consumer() {
  layers=$1
  shift
  make_no_asio_dir
  set -- -S "$consumer_dir" -B "$work_dir/build" -G "$generator" \
    -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$config" \
    -DCMAKE_CXX_FLAGS="$cxx_flags" \
    -DCMAKE_EXE_LINKER_FLAGS="$exe_linker_flags" \
    -DCMAKE_SHARED_LINKER_FLAGS="$shared_linker_flags" \
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
    -DCONSUMER_EXPECTED_VERSION="$version" -DCONSUMER_NO_ASIO_DIR="$no_asio_dir" \
    -DCONSUMER_LAYERS="$(printf '%s' "$layers" | tr ' ' ';')" "$@"
  [ -n "$make_program" ] && set -- "$@" -DCMAKE_MAKE_PROGRAM="$make_program"
  [ -n "$launcher" ] && set -- "$@" -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher"
  if [ -n "$config" ]; then
    config_upper=$(printf '%s' "$config" | tr '[:lower:]' '[:upper:]')
    set -- "$@" -DCMAKE_CXX_FLAGS_"$config_upper"="$config_flags"
  fi
  run "$cmake" "$@"
  if [ -n "$config" ]; then
    run "$cmake" --build "$work_dir/build" --config "$config"
  else
    run "$cmake" --build "$work_dir/build"
  fi
  for layer in $layers; do
    run "$work_dir/build/bin/consumer_$layer"
  done
}

case $mode in
  install)
    rm -rf "$work_dir"
    mkdir -p "$work_dir"
    # An install from a build that made the tool but not yet its page (as the demo's build once
    # did) must still install the page: it is moved aside here, and put back in any case.
    if [ "$cli" = ON ] && [ -f "$manpage" ]; then
      mv "$manpage" "$work_dir/beanpole.1.saved"
      trap '[ -f "$manpage" ] || mv "$work_dir/beanpole.1.saved" "$manpage"' EXIT
    fi
    set -- --install "$build_dir" --prefix "$work_dir/prefix"
    [ -z "$config" ] || set -- "$@" --config "$config"
    run "$cmake" "$@" || {
      echo "cmake --install failed (the packaging tests need the whole project built first)" >&2
      exit 1
    }
    if [ "$cli" = ON ]; then
      for f in bin/beanpole "$mandir/man1/beanpole.1" \
               "$datadir/bash-completion/completions/beanpole" \
               "$datadir/zsh/vendor-completions/_beanpole"; do
        [ -s "$work_dir/prefix/$f" ] || { echo "not installed (or empty): $f" >&2; exit 1; }
      done
      head -n 5 "$work_dir/prefix/$mandir/man1/beanpole.1" | grep -q '^\.TH BEANPOLE 1' || {
        echo "$mandir/man1/beanpole.1 is not the beanpole(1) page" >&2; exit 1; }
      say "the man page was installed although the build had none at hand"
    fi
    for f in "include/beanpole/beanpole.hpp" "include/beanpole/version.hpp" \
             "$libdir/pkgconfig/beanpole-proto.pc" "$libdir/pkgconfig/beanpole-client.pc" \
             "$libdir/pkgconfig/beanpole-async.pc" "$libdir/pkgconfig/beanpole-worker.pc" \
             "$libdir/cmake/beanpole/beanpoleConfig.cmake" \
             "$libdir/cmake/beanpole/beanpoleConfigVersion.cmake" \
             "$libdir/cmake/beanpole/beanpoleTargets.cmake" \
             "$libdir/cmake/beanpole/FindAsio.cmake" "$libdir/pkgconfig/beanpole.pc"; do
      [ -f "$work_dir/prefix/$f" ] || { echo "not installed: $f" >&2; exit 1; }
    done
    if [ -e "$work_dir/prefix/include/beanpole/version.hpp.in" ]; then
      echo "version.hpp.in must not be installed" >&2; exit 1
    fi
    say "installed to $work_dir/prefix"
    ;;

  find_package|find_package_without_asio)
    rm -rf "$work_dir"
    mkdir -p "$work_dir"
    # A copy in another place: the CMake package must not depend on where it was installed.
    run cp -R "$install_dir" "$work_dir/prefix"
    if grep -r -l -F "$install_dir" "$work_dir/prefix/$libdir/cmake/beanpole"; then
      echo "the CMake package above refers to its install location: not relocatable" >&2
      exit 1
    fi
    set -- -DCONSUMER_MODE=find_package -DCMAKE_PREFIX_PATH="$work_dir/prefix"
    if [ "$mode" = find_package ]; then
      build_consumer "$all_layers" "$@"
    else
      # Asio::Asio is then undefined: a link interface that named it would fail to generate.
      build_consumer 'proto client' "$@" -DCMAKE_DISABLE_FIND_PACKAGE_Asio=ON
    fi
    ;;

  add_subdirectory)
    rm -rf "$work_dir"
    set -- -DCONSUMER_MODE=add_subdirectory -DBEANPOLE_SOURCE_DIR="$source_dir"
    [ -n "$build_shared_libs" ] && set -- "$@" -DBUILD_SHARED_LIBS="$build_shared_libs"
    build_consumer "$all_layers" "$@"
    # Only what the consumer links was built: no tests, examples or CLI of beanpole.
    if [ -e "$work_dir/build/beanpole-build/tests" ] || [ -e "$work_dir/build/beanpole-build/cli" ]; then
      echo "beanpole's tests or CLI were configured in a subproject build" >&2; exit 1
    fi
    ;;

  default_build)
    case $make_program in
      *ninja*) ;;
      *) echo "not a Ninja build: skipped"; exit 77 ;;
    esac
    demo=$source_dir/scripts/demo.sh
    targets=$(sed -n 's/^cmake --build build --target //p' "$demo")
    if [ -z "$targets" ]; then
      echo "no 'cmake --build build --target ...' line in $demo" >&2
      exit 1
    fi
    say "scripts/demo.sh builds: $targets"
    # Every command a build of those targets runs, from scratch.
    # shellcheck disable=SC2086  # a list of targets
    rm -rf "$work_dir"
    mkdir -p "$work_dir"
    "$make_program" -C "$build_dir" -t commands $targets > "$work_dir/commands" || exit 1
    if ! grep -q 'gen_manpage\.cmake' "$work_dir/commands"; then
      echo "building '$targets' (the README's first command) does not make cli/beanpole.1" >&2
      exit 1
    fi
    say "the man page is made by the README's first command"
    ;;

  pkg_config)
    if [ -z "$pkg_config" ]; then
      echo "pkg-config was not found: skipped"
      exit 77
    fi
    rm -rf "$work_dir"
    mkdir -p "$work_dir"
    PKG_CONFIG_PATH=$install_dir/$libdir/pkgconfig
    export PKG_CONFIG_PATH
    pc_prefix=$("$pkg_config" --variable=prefix beanpole)
    [ "$pc_prefix" = "$install_dir" ] || { echo "beanpole.pc has prefix '$pc_prefix', expected '$install_dir'" >&2; exit 1; }
    pc_version=$("$pkg_config" --modversion beanpole)
    [ -z "$version" ] || [ "$pc_version" = "$version" ] || { echo "beanpole.pc has version '$pc_version', expected '$version'" >&2; exit 1; }
    static=
    [ "$library_type" = SHARED_LIBRARY ] || static=--static
    make_no_asio_dir
    LD_LIBRARY_PATH=$install_dir/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
    for layer in $all_layers; do
      module=beanpole-$layer
      [ "$layer" = beanpole ] && module=beanpole
      cflags=$("$pkg_config" --cflags "$module")
      libs=$("$pkg_config" $static --libs "$module")
      say "pkg-config --cflags $module: $cflags"
      say "pkg-config $static --libs $module: $libs"
      set -- "$consumer_dir/$layer.cpp" -o "$work_dir/consumer_$layer"
      [ -z "$version" ] || set -- -DCONSUMER_EXPECTED_VERSION="\"$version\"" "$@"
      case $layer in
        proto|client)
          case $cflags in
            *ASIO*) echo "$module.pc brings Asio's macros: $cflags" >&2; exit 1 ;;
          esac
          set -- -I"$no_asio_dir" "$@" ;;
      esac
      # shellcheck disable=SC2086  # the flags are lists of words
      run $launcher "$cxx" -std=c++20 $cxx_flags $config_flags $cflags "$@" $exe_linker_flags $libs
      run "$work_dir/consumer_$layer"
    done
    ;;

  *)
    echo "run_packaging_test.sh: unknown mode: $mode" >&2
    exit 2
    ;;
esac
