// tests/support's fault_proxy as a program, for the shell tests of the beanpole tool.
//
//   beanpole_fault_proxy UPSTREAM_PORT [--cut-every BYTES] [--stall-every BYTES]
//                        [--max-stall MS] [--split SHARE] [--seed N]
//
// Listens on 127.0.0.1 (a port the kernel picks, printed on the first line of stdout) and
// forwards every connection to 127.0.0.1:UPSTREAM_PORT. The options set the random faults
// (fault_schedule in fault_proxy.hpp; none by default); with any of them, the seed (--seed, else
// $BEANPOLE_FAULT_SEED, else a random one) is printed on stderr. Commands, one a line on stdin:
//   cut PREFIX   the next client write starting with PREFIX reaches the server, then that
//                connection is cut before the reply (see fault_proxy.hpp); answers "armed"
//   cuts         answers the number of connections cut so far
//   faults on|off  random faults for the connections accepted from now on; answers "ok"
//   stats        answers "connections N cuts N stalls N splits N"
// It exits at the end of stdin.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "fault_proxy.hpp"

namespace {

int usage() {
  std::cerr << "usage: beanpole_fault_proxy UPSTREAM_PORT [--cut-every BYTES] "
               "[--stall-every BYTES] [--max-stall MS] [--split SHARE] [--seed N]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc % 2 != 0) return usage();
  try {
    const long upstream = std::strtol(argv[1], nullptr, 10);
    if (upstream <= 0 || upstream > 65535) {
      std::cerr << "beanpole_fault_proxy: bad port " << argv[1] << '\n';
      return 2;
    }
    beanpole::testing::fault_schedule schedule;
    bool seeded = false;
    for (int i = 2; i + 1 < argc; i += 2) {
      const std::string_view opt = argv[i];
      const char* value = argv[i + 1];
      if (opt == "--cut-every") {
        schedule.cut_every = std::strtoull(value, nullptr, 10);
      } else if (opt == "--stall-every") {
        schedule.stall_every = std::strtoull(value, nullptr, 10);
      } else if (opt == "--max-stall") {
        schedule.max_stall = std::chrono::milliseconds(std::strtoll(value, nullptr, 10));
      } else if (opt == "--split") {
        schedule.split = std::strtod(value, nullptr);
      } else if (opt == "--seed") {
        schedule.seed = std::strtoull(value, nullptr, 10);
        seeded = true;
      } else {
        return usage();
      }
    }
    if (schedule.active()) {
      if (seeded) {
        std::cerr << "beanpole_fault_proxy: seed " << schedule.seed << std::endl;
      } else {
        schedule.seed = beanpole::testing::fault_schedule::seed_for("beanpole_fault_proxy");
      }
    }
    beanpole::testing::fault_proxy proxy(static_cast<std::uint16_t>(upstream), schedule);
    std::cout << proxy.endpoint().port << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.rfind("cut ", 0) == 0) {
        proxy.cut_on(line.substr(4));
        std::cout << "armed" << std::endl;
      } else if (line == "cuts") {
        std::cout << proxy.cuts() << std::endl;
      } else if (line == "faults on" || line == "faults off") {
        proxy.set_random_faults(line == "faults on");
        std::cout << "ok" << std::endl;
      } else if (line == "stats") {
        std::cout << "connections " << proxy.connections() << " cuts " << proxy.cuts() << " stalls "
                  << proxy.stalls() << " splits " << proxy.splits() << std::endl;
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
