# beanpole_warnings(target): the warning set for beanpole's own code. Errors only when
# BEANPOLE_WERROR is on (the top-level build), never forced on consumers.
function(beanpole_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wimplicit-fallthrough)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
     AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # g++ 12 at -O2/-O3 reports -Wrestrict inside libstdc++'s own std::string code for ordinary
    # concatenations such as `"x" + std::move(s)` (GCC bug 105651, fixed in 13). The Release
    # build of the test command compiles with it off, so no such false positive can break a
    # user's Release build again.
    target_compile_options(${target} PRIVATE -Wno-restrict)
  endif()
  if(BEANPOLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
