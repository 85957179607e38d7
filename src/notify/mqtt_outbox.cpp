#include "notify/mqtt_outbox.h"

#include <algorithm>
#include <unordered_set>

namespace iotstream::notify {

bool MqttOutbox::Push(MqttMessage m) {
  const size_t n = BytesOf(m);
  if (queue_.size() >= max_messages_ || bytes_ + n > max_bytes_) return false;
  bytes_ += n;
  queue_.push_back(Entry{std::move(m)});
  return true;
}

void MqttOutbox::PushSession(std::vector<MqttMessage> batch) {
  std::unordered_set<std::string> topics;
  for (const auto& m : batch) topics.insert(m.topic);
  auto unsent = queue_.begin() + static_cast<std::ptrdiff_t>(in_flight_);
  auto kept = std::stable_partition(unsent, queue_.end(), [&topics](const Entry& e) {
    return !(e.message.session && topics.count(e.message.topic) > 0);
  });
  for (auto it = kept; it != queue_.end(); ++it) bytes_ -= BytesOf(it->message);
  queue_.erase(kept, queue_.end());
  std::vector<Entry> entries;
  entries.reserve(batch.size());
  for (auto& m : batch) {
    bytes_ += BytesOf(m);
    m.session = true;
    entries.push_back(Entry{std::move(m)});
  }
  queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(in_flight_), std::make_move_iterator(entries.begin()),
                std::make_move_iterator(entries.end()));
}

const MqttMessage* MqttOutbox::Next(size_t window) const {
  if (in_flight_ >= queue_.size() || in_flight_ >= window || (hold_ && in_flight_ > 0)) return nullptr;
  return &queue_[in_flight_].message;
}

void MqttOutbox::MarkSent(int mid) {
  queue_[in_flight_].mid = mid;
  ++in_flight_;
}

void MqttOutbox::DropNext() {
  auto it = queue_.begin() + static_cast<std::ptrdiff_t>(in_flight_);
  bytes_ -= BytesOf(it->message);
  queue_.erase(it);
}

std::optional<MqttMessage> MqttOutbox::Ack(int mid) {
  auto end = queue_.begin() + static_cast<std::ptrdiff_t>(in_flight_);
  auto it = std::find_if(queue_.begin(), end, [mid](const Entry& e) { return e.mid == mid; });
  if (it == end) return std::nullopt;
  bytes_ -= BytesOf(it->message);
  std::optional<MqttMessage> acked(std::move(it->message));
  queue_.erase(it);
  if (--in_flight_ == 0) hold_ = false;
  return acked;
}

}  // namespace iotstream::notify
