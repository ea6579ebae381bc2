// The admin layer: bulk job operations and server metrics, above the blocking client.
// Link `beanpole::admin`.
#pragma once

#include "beanpole/admin/exposition.hpp"
#include "beanpole/admin/jobs.hpp"
