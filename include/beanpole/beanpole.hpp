// The umbrella header: everything a beanpole user needs.
#pragma once

#include "beanpole/async_client.hpp"
#include "beanpole/client.hpp"
#include "beanpole/endpoint.hpp"
#include "beanpole/error.hpp"
#include "beanpole/metrics.hpp"
#include "beanpole/pool.hpp"
#include "beanpole/pool_types.hpp"
#include "beanpole/options.hpp"
#include "beanpole/proto/commands.hpp"
#include "beanpole/proto/reply.hpp"
#include "beanpole/proto/reply_parser.hpp"
#include "beanpole/proto/stats.hpp"
#include "beanpole/types.hpp"
#include "beanpole/version.hpp"
#include "beanpole/worker.hpp"
