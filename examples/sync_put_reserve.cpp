// The blocking client: put a job, reserve it, delete it.
#include <iostream>

#include "address.hpp"
#include "beanpole/client.hpp"

int main(int argc, char** argv) try {
  beanpole::client client(example_endpoint(argc, argv));
  client.use("emails");
  const beanpole::job_id id = client.put("send welcome mail to ada@example.org");
  std::cout << "put job " << id << "\n";

  client.watch("emails");
  if (auto job = client.reserve_with_timeout(std::chrono::seconds{1})) {
    std::cout << "reserved job " << job->id() << ": " << job->body() << "\n";
    job->remove();  // done
  }
} catch (const beanpole::error& e) {
  std::cerr << "beanpole: " << e.what() << "\n";
  return 1;
}
