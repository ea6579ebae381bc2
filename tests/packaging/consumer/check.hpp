// The checks shared by the consumer programs: each reports what failed and exits non-zero.
#pragma once

#include <cstdio>

namespace consumer {

inline int failures = 0;

inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++failures;
  }
}

// Prints the verdict of the program `name`; returns main's exit status.
inline int finish(const char* name) {
  std::printf("%s: %s\n", name, failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace consumer
