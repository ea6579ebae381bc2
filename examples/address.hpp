// Where the examples connect: the first argument, else $BEANSTALKD_ADDR, else 127.0.0.1:11300.
#pragma once

#include <cstdlib>
#include <iostream>

#include "beanpole/endpoint.hpp"

inline beanpole::endpoint example_endpoint(int argc, char** argv) {
  const char* env = std::getenv("BEANSTALKD_ADDR");
  const char* text = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:11300";
  beanpole::endpoint ep;
  if (beanpole::endpoint::parse(text, ep)) {
    std::cerr << "bad address '" << text << "': expected HOST:PORT or unix:PATH\n";
    std::exit(2);
  }
  return ep;
}
