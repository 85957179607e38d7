// The CPU priority order of iotstream's threads, decided here once (as nice values: higher yields more), and the
// call that applies one to the calling thread. When both cores are busy, what comes first keeps its pace and the
// rest turns its shortfall into counted drops (stale recognition jobs, skipped viewer frames, storage queue drops)
// instead of slower answers to cameras.
#pragma once

namespace iotstream::cpu_priority {

// HTTP I/O threads: camera uploads and API answers. Nothing may slow them.
inline constexpr int kCameraUploads = 0;
// A cluster node's heartbeat (a few small statements a second): one late by 3 s shows the node down to the others.
inline constexpr int kClusterHeartbeat = 0;
// The live-view thread: a hundred viewers' socket writes must not delay an upload (each viewer skips frames
// instead).
inline constexpr int kLiveViewers = 10;
// Recognition workers. A camera frame's pixel work goes further, to SCHED_IDLE (vision/pool.h), where allowed.
inline constexpr int kRecognition = 10;
// The footage export worker (H.264 encoding): a person waits for it, but after cameras, viewers and recognition.
inline constexpr int kExport = 15;
// The storage thread: bounded by its queue, it takes the CPU that is left, mostly ext4 inode work.
inline constexpr int kStorage = 19;

// Sets the calling thread's nice value (Linux: per thread). Returns false when the kernel refused it (raising
// priority needs CAP_SYS_NICE); the thread then keeps its current one.
bool SetCurrentThread(int nice);

}  // namespace iotstream::cpu_priority
