# beanpole_warnings(target): the warning set for beanpole's own code. Errors only when
# BEANPOLE_WERROR is on (the top-level build), never forced on consumers.
function(beanpole_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                           -Wimplicit-fallthrough)
  if(BEANPOLE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
