#include "exports/exporter.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/clock.h"
#include "core/log.h"
#include "exports/zip_writer.h"

namespace iotstream::exports {
namespace fs = std::filesystem;

std::string_view FormatName(Format f) { return f == Format::kMp4 ? "mp4" : "zip"; }

std::optional<Format> ParseFormat(std::string_view name) {
  if (name == "mp4") return Format::kMp4;
  if (name == "zip") return Format::kZip;
  return std::nullopt;
}

std::string_view StateName(JobState s) {
  switch (s) {
    case JobState::kQueued: return "queued";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kFailed: return "failed";
  }
  return "failed";
}

Exporter::Exporter(const ExporterOptions& options, FrameReader reader, Metrics& metrics)
    : options_(options),
      reader_(std::move(reader)),
      refused_busy_(metrics.counter("export_refused_total", "export requests refused", {{"reason", "busy"}})),
      refused_invalid_(metrics.counter("export_refused_total", "export requests refused", {{"reason", "invalid"}})),
      done_(metrics.counter("export_jobs_total", "export jobs finished", {{"result", "done"}})),
      failed_(metrics.counter("export_jobs_total", "export jobs finished", {{"result", "failed"}})),
      frames_(metrics.counter("export_frames_total", "frames written into exports")),
      skipped_(metrics.counter("export_frames_skipped_total",
                               "frames left out of exports: evicted before they were read, or undecodable")),
      active_(metrics.gauge("export_jobs_active", "export jobs queued or running")) {}

Result<std::unique_ptr<Exporter>> Exporter::Start(const ExporterOptions& options, FrameReader reader,
                                                  Metrics& metrics) {
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Status::IOError("cannot create " + options.dir + ": " + ec.message());
  // Files of a previous run: no job names them any more.
  fs::directory_iterator it(options.dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (fs::remove_all(it->path(), ec); ec) break;
  }
  if (ec) return Status::IOError("cannot empty " + options.dir + ": " + ec.message());
  std::unique_ptr<Exporter> e(new Exporter(options, std::move(reader), metrics));
  e->worker_ = std::thread([raw = e.get()] { raw->Loop(); });
  return e;
}

Exporter::~Exporter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::error_code ec;
  for (const auto& [id, job] : jobs_) fs::remove(job->path, ec);
}

Result<JobInfo> Exporter::Submit(ExportRequest request) {
  auto refuse = [this](Status st) {
    refused_invalid_.Add();
    return st;
  };
  if (request.to_ms <= request.from_ms) return refuse(Status::InvalidArgument("'to' must be after 'from'"));
  if (request.to_ms - request.from_ms > options_.max_range_ms) {
    return refuse(Status::InvalidArgument("an export covers at most " + std::to_string(options_.max_range_ms / 1000) +
                                          " s (--max-export-seconds)"));
  }
  if (request.frames.size() > options_.max_frames) {
    return refuse(Status::InvalidArgument("an export holds at most " + std::to_string(options_.max_frames) +
                                          " frames; choose a shorter range"));
  }
  if (request.frames.empty()) return refuse(Status::NotFound("no stored frames in that range"));
  std::lock_guard lock(mu_);
  if (stopping_) return Status::Unavailable("the server is stopping");
  if (unfinished_ >= options_.max_jobs) {
    refused_busy_.Add();
    return Status::Unavailable(std::to_string(unfinished_) + " exports are already under way; try again when one "
                               "is done");
  }
  auto job = std::make_unique<Job>();
  job->info.id = next_id_++;
  job->info.device_id = std::move(request.device_id);
  job->info.format = request.format;
  job->info.from_ms = request.from_ms;
  job->info.to_ms = request.to_ms;
  job->info.frames_total = request.frames.size();
  job->frames = std::move(request.frames);
  const std::string file = std::to_string(job->info.id) + "." + std::string(FormatName(job->info.format));
  job->path = (fs::path(options_.dir) / file).string();
  JobInfo info = job->info;
  queue_.push_back(info.id);
  jobs_.emplace(info.id, std::move(job));
  ++unfinished_;
  active_.Set(static_cast<int64_t>(unfinished_));
  cv_.notify_all();
  return info;
}

Result<JobInfo> Exporter::Get(uint64_t id) const {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return Status::NotFound("no export " + std::to_string(id));
  return it->second->info;
}

Result<std::string> Exporter::ReadFile(uint64_t id) const {
  std::string path;
  {
    std::lock_guard lock(mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return Status::NotFound("no export " + std::to_string(id));
    if (it->second->info.state != JobState::kDone) {
      return Status::Conflict("export " + std::to_string(id) + " is " + std::string(StateName(it->second->info.state)));
    }
    path = it->second->path;
  }
  // Pruned meanwhile: the file is gone, as if the request had come later.
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("export " + std::to_string(id) + " is no longer kept");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError("cannot read " + path);
  return bytes;
}

void Exporter::Loop() {
  if (!cpu_priority::SetCurrentThread(options_.thread_nice)) {
    IOT_LOG(kWarn) << "export: cannot set the worker's nice value to " << options_.thread_nice;
  }
  while (true) {
    Job* job = nullptr;
    {
      std::unique_lock lock(mu_);
      // Wakes for a job, to stop, or to let kept files expire.
      cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1000, options_.keep_ms / 4)),
                   [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      if (!queue_.empty()) {
        job = jobs_.at(queue_.front()).get();
        queue_.pop_front();
        job->info.state = JobState::kRunning;
      }
    }
    if (job != nullptr) {
      Result<uint64_t> ran = Run(*job);
      std::lock_guard lock(mu_);
      if (stopping_) return;
      job->info.state = ran.ok() ? JobState::kDone : JobState::kFailed;
      if (ran.ok()) {
        job->info.bytes = ran.value();
      } else {
        job->info.error = ran.status().message();
        IOT_LOG(kWarn) << "export " << job->info.id << " of " << job->info.device_id
                       << " failed: " << ran.status().ToString();
      }
      (ran.ok() ? done_ : failed_).Add();
      job->frames = {};
      job->finished_us = MonotonicUs();
      --unfinished_;
      active_.Set(static_cast<int64_t>(unfinished_));
    }
    Prune();
  }
}

Result<uint64_t> Exporter::Run(Job& job) {
  Status st = job.info.format == Format::kMp4 ? WriteMp4(job) : WriteZip(job);
  std::error_code ec;
  if (!st.ok()) {
    fs::remove(job.path, ec);
    return st;
  }
  const auto size = fs::file_size(job.path, ec);
  if (ec) return Status::IOError("cannot read the size of " + job.path + ": " + ec.message());
  return static_cast<uint64_t>(size);
}

bool Exporter::Progress(Job& job, bool skipped) {
  (skipped ? skipped_ : frames_).Add();
  std::lock_guard lock(mu_);
  ++job.info.frames_done;
  if (skipped) ++job.info.frames_skipped;
  return !stopping_;
}

Status Exporter::WriteMp4(Job& job) {
  auto writer = Mp4Writer::Create(job.path, options_.mp4);
  if (!writer.ok()) return writer.status();
  Mp4Writer& w = *writer.value();
  for (const ExportFrame& f : job.frames) {
    Result<std::string> jpeg = reader_(f.id);
    Status st = jpeg.ok() ? w.Add(jpeg.value(), f.capture_ts_ms) : jpeg.status();
    // An evicted or undecodable frame is left out; anything else ends the job.
    const bool skipped = !st.ok();
    if (skipped && !st.IsNotFound() && !st.IsInvalidArgument()) return st;
    if (!Progress(job, skipped)) return Status::Unavailable("the server is stopping");
  }
  if (w.frames() == 0) return Status::NotFound("none of the range's frames could be read");
  // The video runs from the first frame's time to the end of the range, as the camera saw it.
  return w.Finish(job.info.to_ms);
}

Status Exporter::WriteZip(Job& job) {
  auto writer = ZipWriter::Create(job.path);
  if (!writer.ok()) return writer.status();
  size_t written = 0;
  uint64_t bytes = 0;
  for (const ExportFrame& f : job.frames) {
    Result<std::string> jpeg = reader_(f.id);
    if (!jpeg.ok() && !jpeg.status().IsNotFound()) return jpeg.status();
    if (jpeg.ok()) {
      bytes += jpeg.value().size();
      if (bytes > options_.max_file_bytes) {
        const uint64_t max = options_.max_file_bytes;
        const std::string bound = max >= (1u << 20) ? std::to_string(max >> 20) + " MiB" : std::to_string(max) + " bytes";
        return Status::TooLarge("the ZIP would exceed " + bound + ": choose a shorter range");
      }
      // <device>_<capture time in ms>_<frame id>.jpg: sorted by name is sorted by time.
      std::ostringstream name;
      name << job.info.device_id << '_' << f.capture_ts_ms << '_' << f.id << ".jpg";
      if (Status st = writer.value()->Add(name.str(), jpeg.value(), f.capture_ts_ms); !st.ok()) return st;
      ++written;
    }
    if (!Progress(job, !jpeg.ok())) return Status::Unavailable("the server is stopping");
  }
  if (written == 0) return Status::NotFound("none of the range's frames could be read");
  return writer.value()->Finish();
}

void Exporter::Prune() {
  std::vector<std::string> gone;
  {
    std::lock_guard lock(mu_);
    const int64_t now = MonotonicUs();
    std::vector<uint64_t> finished;  // oldest id first: the map is ordered
    for (const auto& [id, job] : jobs_) {
      if (job->finished_us != 0) finished.push_back(id);
    }
    size_t excess = finished.size() > options_.keep_jobs ? finished.size() - options_.keep_jobs : 0;
    for (uint64_t id : finished) {
      auto it = jobs_.find(id);
      const bool expired = now - it->second->finished_us >= options_.keep_ms * 1000;
      if (excess == 0 && !expired) continue;
      if (excess > 0) --excess;
      gone.push_back(it->second->path);
      jobs_.erase(it);
    }
  }
  std::error_code ec;
  for (const auto& path : gone) fs::remove(path, ec);
}

}  // namespace iotstream::exports
