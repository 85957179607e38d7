// The exports room: Mp4Writer (checked by reading the file back with libavformat), ZipWriter (read back with
// minizip's unzip) and the Exporter's jobs, bounds and progress, over a fake frame reader.
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <minizip/unzip.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include "core/metrics.h"
#include "exports/exporter.h"
#include "exports/mp4_writer.h"
#include "exports/zip_writer.h"
#include "support/test_support.h"

namespace iotstream::exports {
namespace {

namespace fs = std::filesystem;
using iotstream::testing::ReadFile;
using iotstream::testing::TempDir;
using iotstream::testing::WaitFor;

// A w x h JPEG whose picture depends on `seed`, so that frames differ.
std::string MakeJpeg(int w, int h, int seed) {
  std::vector<unsigned char> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      unsigned char* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<unsigned char>(x + seed * 7);
      p[1] = static_cast<unsigned char>(y + seed * 3);
      p[2] = static_cast<unsigned char>(seed * 11);
    }
  }
  tjhandle tj = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(tj, rgb.data(), w, 0, h, TJPF_RGB, &out, &size, TJSAMP_422, 85, 0), 0);
  std::string jpeg(reinterpret_cast<char*>(out), size);
  tjFree(out);
  tjDestroy(tj);
  return jpeg;
}

// What libavformat reads back from a video file.
struct Probe {
  bool ok = false;
  std::string codec;
  int width = 0, height = 0;
  AVPixelFormat pix_fmt = AV_PIX_FMT_NONE;
  int packets = 0;
  double duration_s = 0;  // the stream's: last packet's end
};

Probe ProbeVideo(const std::string& path) {
  Probe p;
  AVFormatContext* f = nullptr;
  if (avformat_open_input(&f, path.c_str(), nullptr, nullptr) < 0) return p;
  if (avformat_find_stream_info(f, nullptr) >= 0 && f->nb_streams == 1) {
    const AVStream* st = f->streams[0];
    p.codec = avcodec_get_name(st->codecpar->codec_id);
    p.width = st->codecpar->width;
    p.height = st->codecpar->height;
    p.pix_fmt = static_cast<AVPixelFormat>(st->codecpar->format);
    AVPacket* pkt = av_packet_alloc();
    int64_t end = 0;
    while (av_read_frame(f, pkt) >= 0) {
      ++p.packets;
      end = std::max(end, pkt->pts + pkt->duration);
      av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    p.duration_s = static_cast<double>(end) * av_q2d(st->time_base);
    p.ok = true;
  }
  avformat_close_input(&f);
  return p;
}

// The entries of a ZIP archive, name -> bytes, and whether every one is stored (not compressed).
struct Unzipped {
  std::map<std::string, std::string> entries;
  std::vector<std::string> order;
  bool all_stored = true;
};

Unzipped ReadZip(const std::string& path) {
  Unzipped out;
  unzFile z = unzOpen64(path.c_str());
  EXPECT_NE(z, nullptr) << path;
  if (z == nullptr) return out;
  for (int rc = unzGoToFirstFile(z); rc == UNZ_OK; rc = unzGoToNextFile(z)) {
    unz_file_info64 info{};
    char name[256] = {};
    EXPECT_EQ(unzGetCurrentFileInfo64(z, &info, name, sizeof name, nullptr, 0, nullptr, 0), UNZ_OK);
    if (info.compression_method != 0) out.all_stored = false;
    EXPECT_EQ(unzOpenCurrentFile(z), UNZ_OK);
    std::string bytes(info.uncompressed_size, '\0');
    if (!bytes.empty()) {
      EXPECT_EQ(unzReadCurrentFile(z, bytes.data(), static_cast<unsigned>(bytes.size())),
                static_cast<int>(bytes.size()));
    }
    EXPECT_EQ(unzCloseCurrentFile(z), UNZ_OK) << "CRC mismatch in " << name;
    out.entries[name] = std::move(bytes);
    out.order.push_back(name);
  }
  unzClose(z);
  return out;
}

TEST(Mp4Writer, WritesH264ThatKeepsTheCamerasPace) {
  TempDir dir;
  const std::string path = (dir.path() / "v.mp4").string();
  auto w = Mp4Writer::Create(path, Mp4Options{});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  const int64_t t0 = 1'700'000'000'000;
  // 20 frames 100 ms apart at an odd size, then the range ends 2 s after the first: a 2 s video of 20 frames.
  for (int i = 0; i < 19; ++i) ASSERT_TRUE(w.value()->Add(MakeJpeg(321, 241, i), t0 + i * 100).ok()) << i;
  // A frame of another size is scaled to the video's.
  ASSERT_TRUE(w.value()->Add(MakeJpeg(640, 480, 19), t0 + 1900).ok());
  EXPECT_EQ(w.value()->width(), 320);
  EXPECT_EQ(w.value()->height(), 240);
  ASSERT_TRUE(w.value()->Finish(t0 + 2000).ok());
  EXPECT_EQ(w.value()->frames(), 20);

  const Probe p = ProbeVideo(path);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.codec, "h264");
  EXPECT_EQ(p.width, 320);
  EXPECT_EQ(p.height, 240);
  EXPECT_EQ(p.pix_fmt, AV_PIX_FMT_YUV420P);
  EXPECT_EQ(p.packets, 20);
  EXPECT_NEAR(p.duration_s, 2.0, 0.002);
  // +faststart: the index (moov) comes before the media (mdat), so a browser can play while it downloads.
  const std::string bytes = ReadFile(path);
  ASSERT_NE(bytes.find("moov"), std::string::npos);
  EXPECT_LT(bytes.find("moov"), bytes.find("mdat"));
}

TEST(Mp4Writer, SkipsWhatDoesNotDecodeAndRefusesAnEmptyVideo) {
  TempDir dir;
  const std::string path = (dir.path() / "v.mp4").string();
  {
    auto w = Mp4Writer::Create(path, Mp4Options{});
    ASSERT_TRUE(w.ok());
    EXPECT_TRUE(w.value()->Add("not a jpeg", 0).IsInvalidArgument());
    EXPECT_TRUE(w.value()->Finish(1000).IsInvalidArgument());
  }
  EXPECT_FALSE(fs::exists(path));
  {
    auto w = Mp4Writer::Create(path, Mp4Options{});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w.value()->Add(MakeJpeg(64, 48, 1), 1000).ok());
    EXPECT_TRUE(w.value()->Add(std::string("\xff\xd8\xff\xd9", 4), 1100).IsInvalidArgument());
    // Times that do not move forward are nudged 1 ms on rather than refused.
    ASSERT_TRUE(w.value()->Add(MakeJpeg(64, 48, 2), 1000).ok());
    ASSERT_TRUE(w.value()->Add(MakeJpeg(64, 48, 3), 1200).ok());
  }
  // Never finished: the half-written file is removed.
  EXPECT_FALSE(fs::exists(path));
}

TEST(ZipWriter, StoresEntriesByteForByte) {
  TempDir dir;
  const std::string path = (dir.path() / "a.zip").string();
  auto z = ZipWriter::Create(path);
  ASSERT_TRUE(z.ok()) << z.status().ToString();
  const std::string one = MakeJpeg(32, 32, 1), two = MakeJpeg(40, 30, 2);
  ASSERT_TRUE(z.value()->Add("cam_1000_1.jpg", one, 1'700'000'000'000).ok());
  ASSERT_TRUE(z.value()->Add("cam_2000_2.jpg", two, 1'700'000'001'000).ok());
  ASSERT_TRUE(z.value()->Add("empty.txt", "", 0).ok());
  ASSERT_TRUE(z.value()->Finish().ok());
  const Unzipped u = ReadZip(path);
  EXPECT_TRUE(u.all_stored);
  EXPECT_EQ(u.order, (std::vector<std::string>{"cam_1000_1.jpg", "cam_2000_2.jpg", "empty.txt"}));
  EXPECT_EQ(u.entries.at("cam_1000_1.jpg"), one);
  EXPECT_EQ(u.entries.at("cam_2000_2.jpg"), two);
  EXPECT_EQ(u.entries.at("empty.txt"), "");
}

TEST(ZipWriter, AnUnfinishedArchiveIsRemoved) {
  TempDir dir;
  const std::string path = (dir.path() / "a.zip").string();
  {
    auto z = ZipWriter::Create(path);
    ASSERT_TRUE(z.ok());
    ASSERT_TRUE(z.value()->Add("x.jpg", "bytes", 0).ok());
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(ZipWriter::Create((dir.path() / "no" / "such" / "a.zip").string()).status().IsIOError());
}

// Stored frames in memory; a reader may be held at a gate to keep a job running.
class FakeFrames {
 public:
  void Put(uint64_t id, std::string jpeg) { frames_[id] = std::move(jpeg); }
  void Close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  FrameReader Reader() {
    return [this](uint64_t id) -> Result<std::string> {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return open_; });
      auto it = frames_.find(id);
      if (it == frames_.end()) return Status::NotFound("evicted");
      return it->second;
    };
  }

 private:
  std::map<uint64_t, std::string> frames_;  // written before the exporter starts
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;  // guarded by mu_
};

class ExporterTest : public ::testing::Test {
 protected:
  static constexpr int64_t kT0 = 1'700'000'000'000;

  void SetUp() override {
    for (uint64_t id = 1; id <= 10; ++id) frames_.Put(id, MakeJpeg(96, 64, static_cast<int>(id)));
  }
  std::unique_ptr<Exporter> Start(ExporterOptions o = {}) {
    o.dir = (dir_.path() / "exports").string();
    auto e = Exporter::Start(o, frames_.Reader(), metrics_);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? std::move(e).value() : nullptr;
  }
  // Frames 1..n, 200 ms apart from kT0.
  static ExportRequest Request(Format format, size_t n = 10) {
    ExportRequest r{"cam", kT0, kT0 + 2000, format, {}};
    for (uint64_t id = 1; id <= n; ++id) r.frames.push_back({id, kT0 + static_cast<int64_t>(id - 1) * 200});
    return r;
  }
  JobInfo WaitFinished(Exporter& e, uint64_t id) {
    JobInfo info;
    EXPECT_TRUE(WaitFor([&] {
      info = e.Get(id).value();
      return info.state == JobState::kDone || info.state == JobState::kFailed;
    }, std::chrono::seconds(60)));
    return info;
  }
  uint64_t Counter(const std::string& name, const Labels& labels = {}) {
    return metrics_.CounterValue(name, labels).value();
  }

  TempDir dir_;
  Metrics metrics_;
  FakeFrames frames_;
};

TEST_F(ExporterTest, ExportsAnMp4WithProgressAndKeepsTheFile) {
  auto e = Start();
  ASSERT_TRUE(e);
  auto job = e->Submit(Request(Format::kMp4));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job.value().state, JobState::kQueued);
  EXPECT_EQ(job.value().frames_total, 10u);
  const JobInfo done = WaitFinished(*e, job.value().id);
  ASSERT_EQ(done.state, JobState::kDone) << done.error;
  EXPECT_EQ(done.frames_done, 10u);
  EXPECT_EQ(done.frames_skipped, 0u);
  auto bytes = e->ReadFile(done.id);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes.value().size(), done.bytes);
  const Probe p = ProbeVideo((dir_.path() / "exports" / (std::to_string(done.id) + ".mp4")).string());
  EXPECT_EQ(p.codec, "h264");
  EXPECT_EQ(p.packets, 10);
  EXPECT_NEAR(p.duration_s, 2.0, 0.002);  // from the first frame to the end of the range
  EXPECT_EQ(Counter("export_frames_total"), 10u);
  EXPECT_EQ(Counter("export_jobs_total", {{"result", "done"}}), 1u);
}

TEST_F(ExporterTest, AZipHoldsTheFramesByteForByteAndSkipsEvictedOnes) {
  auto e = Start();
  ASSERT_TRUE(e);
  ExportRequest r = Request(Format::kZip);
  r.frames.push_back({99, kT0 + 1999});  // listed, then evicted before it was read
  auto job = e->Submit(std::move(r));
  ASSERT_TRUE(job.ok());
  const JobInfo done = WaitFinished(*e, job.value().id);
  ASSERT_EQ(done.state, JobState::kDone) << done.error;
  EXPECT_EQ(done.frames_done, 11u);
  EXPECT_EQ(done.frames_skipped, 1u);
  EXPECT_EQ(Counter("export_frames_skipped_total"), 1u);
  const Unzipped u = ReadZip((dir_.path() / "exports" / (std::to_string(done.id) + ".zip")).string());
  EXPECT_TRUE(u.all_stored);
  ASSERT_EQ(u.entries.size(), 10u);
  EXPECT_EQ(u.order.front(), "cam_" + std::to_string(kT0) + "_1.jpg");
  for (uint64_t id = 1; id <= 10; ++id) {
    const std::string name = "cam_" + std::to_string(kT0 + static_cast<int64_t>(id - 1) * 200) + "_" +
                             std::to_string(id) + ".jpg";
    ASSERT_EQ(u.entries.count(name), 1u) << name;
    EXPECT_EQ(u.entries.at(name), MakeJpeg(96, 64, static_cast<int>(id))) << name;
  }
}

TEST_F(ExporterTest, RefusesRangesItDoesNotTake) {
  ExporterOptions o;
  o.max_range_ms = 1000;
  o.max_frames = 3;
  auto e = Start(o);
  ASSERT_TRUE(e);
  ExportRequest reversed = Request(Format::kMp4, 1);
  reversed.to_ms = reversed.from_ms;
  EXPECT_TRUE(e->Submit(std::move(reversed)).status().IsInvalidArgument());
  ExportRequest too_long = Request(Format::kMp4, 1);
  too_long.to_ms = too_long.from_ms + 1001;
  EXPECT_TRUE(e->Submit(std::move(too_long)).status().IsInvalidArgument());
  ExportRequest too_many = Request(Format::kMp4, 4);
  too_many.to_ms = too_many.from_ms + 1000;
  EXPECT_TRUE(e->Submit(std::move(too_many)).status().IsInvalidArgument());
  ExportRequest empty = Request(Format::kMp4, 0);
  empty.to_ms = empty.from_ms + 1000;
  EXPECT_TRUE(e->Submit(std::move(empty)).status().IsNotFound());
  EXPECT_EQ(Counter("export_refused_total", {{"reason", "invalid"}}), 4u);
  EXPECT_TRUE(e->Get(12345).status().IsNotFound());
}

TEST_F(ExporterTest, AZipOverTheByteBoundFailsAndLeavesNoFile) {
  ExporterOptions o;
  o.max_file_bytes = 1000;  // less than the ten frames of the range together
  auto e = Start(o);
  ASSERT_TRUE(e);
  auto job = e->Submit(Request(Format::kZip));
  ASSERT_TRUE(job.ok());
  const JobInfo failed = WaitFinished(*e, job.value().id);
  EXPECT_EQ(failed.state, JobState::kFailed);
  EXPECT_NE(failed.error.find("choose a shorter range"), std::string::npos) << failed.error;
  EXPECT_TRUE(e->ReadFile(failed.id).status().IsConflict());
  EXPECT_FALSE(fs::exists(dir_.path() / "exports" / (std::to_string(failed.id) + ".zip")));
  EXPECT_EQ(Counter("export_jobs_total", {{"result", "failed"}}), 1u);
}

TEST_F(ExporterTest, BoundsTheJobsUnderWayAndCountsTheRefused) {
  ExporterOptions o;
  o.max_jobs = 2;
  auto e = Start(o);
  ASSERT_TRUE(e);
  frames_.Close();  // the first job starts and waits for its first frame
  auto first = e->Submit(Request(Format::kMp4));
  auto second = e->Submit(Request(Format::kZip));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(WaitFor([&] { return e->Get(first.value().id).value().state == JobState::kRunning; }));
  EXPECT_EQ(e->Get(second.value().id).value().state, JobState::kQueued);
  EXPECT_TRUE(e->ReadFile(first.value().id).status().IsConflict());
  EXPECT_TRUE(e->Submit(Request(Format::kMp4)).status().IsUnavailable());
  EXPECT_EQ(Counter("export_refused_total", {{"reason", "busy"}}), 1u);
  EXPECT_EQ(metrics_.GaugeValue("export_jobs_active").value(), 2);
  frames_.Open();
  EXPECT_EQ(WaitFinished(*e, first.value().id).state, JobState::kDone);
  EXPECT_EQ(WaitFinished(*e, second.value().id).state, JobState::kDone);
  EXPECT_EQ(metrics_.GaugeValue("export_jobs_active").value(), 0);
  // Room again.
  EXPECT_TRUE(e->Submit(Request(Format::kZip)).ok());
}

TEST_F(ExporterTest, KeepsOnlyTheNewestFinishedJobsAndStartsWithAnEmptyFolder) {
  const fs::path folder = dir_.path() / "exports";
  fs::create_directories(folder);
  { std::ofstream(folder / "7.mp4") << "left from a previous run"; }
  ExporterOptions o;
  o.keep_jobs = 1;
  auto e = Start(o);
  ASSERT_TRUE(e);
  EXPECT_FALSE(fs::exists(folder / "7.mp4"));
  auto first = e->Submit(Request(Format::kZip));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(WaitFinished(*e, first.value().id).state, JobState::kDone);
  auto second = e->Submit(Request(Format::kZip));
  ASSERT_TRUE(second.ok());
  // Once the second is done, the first (and its file) is forgotten.
  ASSERT_TRUE(WaitFor([&] { return e->Get(first.value().id).status().IsNotFound(); }));
  EXPECT_EQ(e->Get(second.value().id).value().state, JobState::kDone);
  EXPECT_FALSE(fs::exists(folder / (std::to_string(first.value().id) + ".zip")));
  EXPECT_TRUE(fs::exists(folder / (std::to_string(second.value().id) + ".zip")));
}

TEST_F(ExporterTest, StoppingWithAJobRunningLeavesNoFileBehind) {
  auto e = Start();
  ASSERT_TRUE(e);
  frames_.Close();
  auto job = e->Submit(Request(Format::kMp4));
  ASSERT_TRUE(job.ok());
  ASSERT_TRUE(WaitFor([&] { return e->Get(job.value().id).value().state == JobState::kRunning; }));
  std::thread release([this] { frames_.Open(); });  // the worker stops after its current frame, or finishes
  e.reset();
  release.join();
  EXPECT_TRUE(fs::is_empty(dir_.path() / "exports"));
}

}  // namespace
}  // namespace iotstream::exports
