// A worker with a plain function handler: it runs on the worker's threads, so it may block.
// A handler that throws is retried with a growing delay and buried after `max_attempts`.
// `run_until_signal()` blocks until Ctrl-C / SIGTERM (or, here, until the tube is idle).
#include <chrono>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "address.hpp"
#include "beanpole/client.hpp"
#include "beanpole/worker.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  const beanpole::endpoint server = example_endpoint(argc, argv);
  beanpole::client producer(server);
  producer.use("emails");
  for (const char* to : {"alice@example.com", "bob@example.com", "nobody@mail.invalid"}) {
    producer.put(to);
  }

  beanpole::worker_options options;
  options.concurrency = 2;
  options.max_attempts = 2;      // bury a job once it has been tried twice
  options.backoff.initial = 1s;  // first retry after about 1 s, then 2 s, 4 s, ...
  options.grace = 10s;           // on Ctrl-C, running handlers get 10 s to finish
  options.stop_when_idle = 2s;   // an example ends by itself
  beanpole::worker worker(server, options);
  worker.handle("emails", [](beanpole::job_context& job) {
    if (job.body().ends_with(".invalid")) throw std::runtime_error("no such domain");
    std::this_thread::sleep_for(100ms);  // blocking is fine here
    std::cout << "sent mail to " << job.body() << " (attempt " << job.attempt() << ")\n";
  });
  try {
    worker.run_until_signal();
  } catch (const std::exception& e) {
    std::cerr << "worker: " << e.what() << "\n";
    return 1;
  }
  std::cerr << beanpole::format_metrics(worker.metrics());
  // The job that always failed is buried now (peek-buried looks in the used tube); clean up so
  // the example can run again.
  while (auto buried = producer.peek_buried()) {
    std::cout << "buried after 2 attempts: " << buried->body << "\n";
    producer.remove(buried->id);
  }
  return 0;
}
