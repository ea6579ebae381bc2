// A consumer of beanpole::worker: a worker with a handler and its counters, never run (there is
// no server).
#include <beanpole/metrics.hpp>
#include <beanpole/worker.hpp>

#include <string>

#include "check.hpp"

using consumer::check;

int main() {
  beanpole::worker_options options;
  options.concurrency = 2;
  beanpole::worker worker(beanpole::endpoint::tcp("127.0.0.1"), options);
  worker.handle("packaging", [](beanpole::job_context&) {});
  check(worker.metrics_port() == 0, "no metrics port unless asked for");
  const std::string text = beanpole::format_metrics(worker.metrics());
  static_cast<void>(text);
  return consumer::finish("worker");
}
