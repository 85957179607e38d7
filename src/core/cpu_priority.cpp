#include "core/cpu_priority.h"

#include <sys/resource.h>
#include <unistd.h>

namespace iotstream::cpu_priority {

bool SetCurrentThread(int nice) { return setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice) == 0; }

}  // namespace iotstream::cpu_priority
