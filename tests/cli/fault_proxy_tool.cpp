// tests/support's fault_proxy as a program, for the shell tests of the beanpole tool.
//
//   beanpole_fault_proxy UPSTREAM_PORT
//
// Listens on 127.0.0.1 (a port the kernel picks, printed on the first line of stdout) and
// forwards every connection to 127.0.0.1:UPSTREAM_PORT. Commands, one a line on stdin:
//   cut PREFIX   the next client write starting with PREFIX reaches the server, then that
//                connection is cut before the reply (see fault_proxy.hpp); answers "armed"
//   cuts         answers the number of connections cut so far
// It exits at the end of stdin.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include "fault_proxy.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: beanpole_fault_proxy UPSTREAM_PORT\n";
    return 2;
  }
  try {
    const long upstream = std::strtol(argv[1], nullptr, 10);
    if (upstream <= 0 || upstream > 65535) {
      std::cerr << "beanpole_fault_proxy: bad port " << argv[1] << '\n';
      return 2;
    }
    beanpole::testing::fault_proxy proxy(static_cast<std::uint16_t>(upstream));
    std::cout << proxy.endpoint().port << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.rfind("cut ", 0) == 0) {
        proxy.cut_on(line.substr(4));
        std::cout << "armed" << std::endl;
      } else if (line == "cuts") {
        std::cout << proxy.cuts() << std::endl;
      } else {
        std::cout << "unknown command" << std::endl;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "beanpole_fault_proxy: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
