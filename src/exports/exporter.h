// Exporter: a camera's stored frames over a time range, exported as an H.264 MP4 (Mp4Writer) or a ZIP of the
// JPEGs (ZipWriter) by jobs that run one at a time on a worker thread of the exporter's own, at a low CPU priority,
// never on an I/O thread. A job reports its progress (frames done of frames to do) while it runs, and its file is
// kept a while for download.
//
// Bounds: a range at most max_range_ms long with at most max_frames frames (else InvalidArgument), at most max_jobs
// jobs queued or running (a further Submit is refused with Unavailable and counted in
// export_refused_total{reason="busy"}); a finished job and its file are kept keep_ms, at most keep_jobs of them (the
// oldest go first). A ZIP growing past max_file_bytes fails (TooLarge). A frame that cannot be read (evicted
// meanwhile) or decoded is skipped and counted in export_frames_skipped_total.
//
// Files: <dir>/<job id>.mp4 or .zip; the folder is the exporter's alone, and Start empties it.
//
// Thread-safety: every public method may be called from any thread. Submit and Get touch memory only (never the
// disk, never waiting for a job); ReadFile reads the disk: call it off I/O threads.
// Lifetime: `reader` is called on the worker thread and must outlive the Exporter. The destructor abandons queued
// and running jobs (removing their files) and joins the worker.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/cpu_priority.h"
#include "core/metrics.h"
#include "core/status.h"
#include "exports/mp4_writer.h"

namespace iotstream::exports {

enum class Format { kMp4, kZip };
enum class JobState { kQueued, kRunning, kDone, kFailed };

// "mp4", "zip"; and back (nullopt for anything else).
std::string_view FormatName(Format f);
std::optional<Format> ParseFormat(std::string_view name);
// "queued", "running", "done", "failed".
std::string_view StateName(JobState s);

// One stored frame to export.
struct ExportFrame {
  uint64_t id = 0;
  int64_t capture_ts_ms = 0;
};

struct ExportRequest {
  std::string device_id;
  int64_t from_ms = 0;  // the range is [from_ms, to_ms)
  int64_t to_ms = 0;
  Format format = Format::kMp4;
  std::vector<ExportFrame> frames;  // the range's frames, oldest first
};

// A job as a client sees it.
struct JobInfo {
  uint64_t id = 0;
  std::string device_id;
  Format format = Format::kMp4;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
  JobState state = JobState::kQueued;
  size_t frames_total = 0;
  size_t frames_done = 0;     // read and written (or skipped) so far
  size_t frames_skipped = 0;  // unreadable or undecodable frames left out
  uint64_t bytes = 0;         // the file's size once done
  std::string error;          // why it failed
};

// The bytes of a stored frame (NotFound once evicted), called on the worker thread.
using FrameReader = std::function<Result<std::string>(uint64_t frame_id)>;

struct ExporterOptions {
  std::string dir;                          // where the files go; created if missing, emptied at start
  // Behaviour
  int64_t max_range_ms = 600'000;           // --max-export-seconds
  size_t max_frames = 18'000;               // frames in one export (30 fps over the longest range)
  size_t max_jobs = 2;                      // --max-exports: queued or running at once
  uint64_t max_file_bytes = 256ull << 20;   // a ZIP that would grow past this fails (it is served from memory)
  size_t keep_jobs = 16;                    // finished jobs kept (with their files)
  int64_t keep_ms = 30 * 60'000;            // how long a finished job's file is kept
  Mp4Options mp4;
  int thread_nice = cpu_priority::kExport;  // the worker's CPU priority
};

class Exporter {
 public:
  // Prepares the folder (IOError when it cannot be used) and starts the worker.
  static Result<std::unique_ptr<Exporter>> Start(const ExporterOptions& options, FrameReader reader,
                                                 Metrics& metrics);
  ~Exporter();
  Exporter(const Exporter&) = delete;
  Exporter& operator=(const Exporter&) = delete;

  // Queues a job; its info (state queued). InvalidArgument for an empty or reversed range, one longer than
  // max_range_ms, or more than max_frames frames; NotFound when it has no frames; Unavailable when max_jobs jobs are
  // queued or running.
  Result<JobInfo> Submit(ExportRequest request);
  // The job's info; NotFound for an unknown (or no longer kept) job.
  Result<JobInfo> Get(uint64_t id) const;
  // The finished job's file; NotFound for an unknown job, Conflict while it is not done (or failed).
  Result<std::string> ReadFile(uint64_t id) const;

  const ExporterOptions& options() const { return options_; }

 private:
  struct Job {
    JobInfo info;
    std::vector<ExportFrame> frames;
    std::string path;
    int64_t finished_us = 0;  // monotonic, once done or failed
  };

  Exporter(const ExporterOptions& options, FrameReader reader, Metrics& metrics);
  void Loop();
  // Runs the job's export, reporting progress; the file's size, or why it failed.
  Result<uint64_t> Run(Job& job);
  Status WriteMp4(Job& job);
  Status WriteZip(Job& job);
  // Counts one frame done (skipped or not). Returns false when the exporter stops.
  bool Progress(Job& job, bool skipped);
  // Forgets finished jobs past keep_ms or beyond keep_jobs; their files go. REQUIRES: mu_ not held.
  void Prune();

  const ExporterOptions options_;
  const FrameReader reader_;
  Counter& refused_busy_;
  Counter& refused_invalid_;
  Counter& done_;
  Counter& failed_;
  Counter& frames_;
  Counter& skipped_;
  Gauge& active_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::unique_ptr<Job>> jobs_;  // guarded by mu_; a running job's frames are its worker's
  std::deque<uint64_t> queue_;                     // guarded by mu_
  uint64_t next_id_ = 1;                           // guarded by mu_
  size_t unfinished_ = 0;                          // guarded by mu_: queued or running
  bool stopping_ = false;                          // guarded by mu_
  std::thread worker_;
};

}  // namespace iotstream::exports
