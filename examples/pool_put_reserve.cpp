// A pool: several beanstalkd servers used as one queue. Puts are spread over the servers, a
// reserve takes a job from whichever server has one, and a job remembers its server (ADDR/ID).
// usage: pool_put_reserve [ADDR[,ADDR...]]
#include <iostream>
#include <sstream>

#include "beanpole/pool.hpp"

int main(int argc, char** argv) try {
  std::vector<beanpole::pool_server> servers;
  std::istringstream list(argc > 1 ? argv[1] : "127.0.0.1:11300");
  for (std::string text; std::getline(list, text, ',');) {
    beanpole::endpoint ep;
    if (beanpole::endpoint::parse(text, ep)) return 2;
    servers.push_back({ep, text, 1});
  }

  beanpole::pool pool(servers);  // connects to every server; retries the ones that are down
  const beanpole::pool_job_id id = pool.put("emails", "send welcome mail to ada@example.org");
  std::cout << "put job " << id.to_string() << "\n";  // e.g. 127.0.0.1:11300/42

  pool.watch("emails");
  if (auto job = pool.reserve_with_timeout(std::chrono::seconds{1})) {
    std::cout << "reserved job " << job->id.to_string() << ": " << job->body << "\n";
    pool.remove(job->id);  // routed to the job's server
  }
} catch (const beanpole::error& e) {
  std::cerr << "beanpole: " << e.what() << "\n";
  return 1;
}
