#include "door.h"

#include <cstring>
#include <utility>

namespace iotstream::firmware {
namespace {

// Nesting deeper than this is not an iotstream answer; the scan gives up rather than grow the board's stack.
constexpr int kMaxDepth = 16;

// Just enough of a JSON reader to walk one answer: every method returns false on text it cannot read.
class Scanner {
 public:
  explicit Scanner(const std::string& text) : s_(text) {}

  void SkipSpace() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r')) ++at_;
  }

  bool Take(char c) {
    SkipSpace();
    if (at_ < s_.size() && s_[at_] == c) {
      ++at_;
      return true;
    }
    return false;
  }

  bool Peek(char c) {
    SkipSpace();
    return at_ < s_.size() && s_[at_] == c;
  }

  bool TakeWord(const char* word) {
    SkipSpace();
    const size_t n = std::strlen(word);
    if (s_.compare(at_, n, word) != 0) return false;
    at_ += n;
    return true;
  }

  // A string; \uXXXX outside ASCII becomes '?' (a name for the log and the serial console).
  bool String(std::string* out) {
    if (!Take('"')) return false;
    out->clear();
    while (at_ < s_.size()) {
      const char c = s_[at_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (at_ >= s_.size()) return false;
      const char e = s_[at_++];
      switch (e) {
        case 'n':
          out->push_back('\n');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'u': {
          if (at_ + 4 > s_.size()) return false;
          unsigned code = 0;
          for (int i = 0; i < 4; ++i) {
            const char h = s_[at_++];
            code <<= 4;
            if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
            else return false;
          }
          out->push_back(code < 0x80 ? static_cast<char>(code) : '?');
          break;
        }
        default:
          out->push_back(e);  // \" \\ \/
      }
    }
    return false;
  }

  bool SkipValue(int depth) {
    if (depth > kMaxDepth) return false;
    SkipSpace();
    if (at_ >= s_.size()) return false;
    const char c = s_[at_];
    if (c == '"') {
      std::string ignored;
      return String(&ignored);
    }
    if (c == '{') {
      ++at_;
      if (Take('}')) return true;
      do {
        std::string key;
        if (!String(&key) || !Take(':') || !SkipValue(depth + 1)) return false;
      } while (Take(','));
      return Take('}');
    }
    if (c == '[') {
      ++at_;
      if (Take(']')) return true;
      do {
        if (!SkipValue(depth + 1)) return false;
      } while (Take(','));
      return Take(']');
    }
    // A number or a literal: up to the next delimiter.
    const size_t begin = at_;
    while (at_ < s_.size() && std::strchr(",}] \t\r\n", s_[at_]) == nullptr) ++at_;
    return at_ > begin;
  }

 private:
  const std::string& s_;
  size_t at_ = 0;
};

// One face object: its "permitted" and "name".
bool ReadFace(Scanner& in, bool* permitted, std::string* name) {
  if (!in.Take('{')) return false;
  *permitted = false;
  name->clear();
  if (in.Take('}')) return true;
  do {
    std::string key;
    if (!in.String(&key) || !in.Take(':')) return false;
    if (key == "permitted") {
      if (in.TakeWord("true")) *permitted = true;
      else if (!in.SkipValue(3)) return false;
    } else if (key == "name" && in.Peek('"')) {
      if (!in.String(name)) return false;
    } else if (!in.SkipValue(3)) {
      return false;
    }
  } while (in.Take(','));
  return in.Take('}');
}

// The "recognition" object: walks "faces" and stops at the first permitted one.
bool ScanRecognition(Scanner& in, std::string* name) {
  if (!in.Take('{') || in.Take('}')) return false;
  do {
    std::string key;
    if (!in.String(&key) || !in.Take(':')) return false;
    if (key != "faces") {
      if (!in.SkipValue(2)) return false;
      continue;
    }
    if (!in.Take('[') || in.Take(']')) return false;
    do {
      bool permitted = false;
      std::string face_name;
      if (!ReadFace(in, &permitted, &face_name)) return false;
      if (permitted) {
        *name = std::move(face_name);
        return true;
      }
    } while (in.Take(','));
    return false;
  } while (in.Take(','));
  return false;
}

}  // namespace

bool FindPermittedFace(const std::string& json, std::string* name) {
  Scanner in(json);
  if (!in.Take('{') || in.Take('}')) return false;
  do {
    std::string key;
    if (!in.String(&key) || !in.Take(':')) return false;
    if (key == "recognition") return in.Peek('{') && ScanRecognition(in, name);
    if (!in.SkipValue(1)) return false;
  } while (in.Take(','));
  return false;
}

Door::Door(DoorOptions options, Uploader& uploader, DigitalOut& output, Clock& clock, Log& log)
    : options_(options), uploader_(uploader), output_(output), clock_(clock), log_(log) {
  output_.Write(false);
}

bool Door::OnAnswer(const UploadResult& result) {
  if (result.outcome != Outcome::kOk) return false;
  std::string name;
  if (!FindPermittedFace(result.body, &name)) return false;
  const bool was_open = open_;
  open_ = true;
  close_at_us_ = clock_.MonotonicUs() + static_cast<uint64_t>(options_.open_ms) * 1000;
  output_.Write(true);
  if (!was_open || name != last_name_) {
    const std::string line = "door: open for " + (name.empty() ? std::string("a permitted person") : name);
    log_.Line(line.c_str());
  }
  last_name_ = std::move(name);
  return true;
}

void Door::Tick() {
  if (open_ && clock_.MonotonicUs() >= close_at_us_) {
    open_ = false;
    output_.Write(false);
    log_.Line("door: closed");
  }
}

bool Door::RunOnce(Camera& camera, bool trigger_high) {
  Tick();
  const uint64_t now = clock_.MonotonicUs();
  if (trigger_high && !trigger_was_high_) trigger_pending_ = true;
  trigger_was_high_ = trigger_high;
  const bool due = !posted_ || now - last_post_us_ >= static_cast<uint64_t>(options_.interval_ms) * 1000;
  const bool allowed = now >= uploader_.ready_at_us();
  if (!(trigger_pending_ || due) || !allowed) {
    clock_.SleepUs(static_cast<uint64_t>(options_.idle_sleep_ms) * 1000);
    return false;
  }
  trigger_pending_ = false;
  posted_ = true;
  last_post_us_ = now;
  FrameView frame;
  if (!camera.Grab(&frame)) {
    log_.Line("camera: no frame");
    return false;
  }
  const UploadResult result = uploader_.Send(frame.data, frame.size);
  camera.Release();
  const bool opened = OnAnswer(result);
  Tick();
  return opened;
}

}  // namespace iotstream::firmware
