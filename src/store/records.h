// Records: the permitted-faces gallery (people, their enrolled face descriptors, negative examples) and the
// recognition event log, in the same SQLite database as the frame index (its own connection), with face and
// event thumbnails as JPEG files under <data_dir>/faces and <data_dir>/events.
//
// Thread-safe: one mutex serialises this object's SQLite connection. Every method blocks on the disk, so
// call it from a worker or disk thread, never from an HTTP I/O thread. A method that returns OK has
// committed: an acknowledged enrolment survives kill -9.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace iotstream::store {

// A row of the gallery: an enrolled face of a person, or (negative) a face that was wrongly matched to them.
struct GalleryEntry {
  int64_t person_id = 0;
  std::string name;
  int64_t face_id = 0;  // faces and negatives share one id space
  bool negative = false;
  std::vector<float> descriptor;
  bool new_person = false;  // AddFace created the person
};

struct PersonSummary {
  int64_t person_id = 0;
  std::string name;
  int64_t created_ms = 0;
  std::vector<int64_t> face_ids;  // oldest first
};

// One entry of the event log: every kind (events/schema.h) is stored here. The columns hold what queries and
// feedback need; `message` holds the event's JSON as it was sent (without its id, which the row gives it).
struct EventRecord {
  int64_t id = 0;                   // assigned by AppendEvent; increasing
  std::string type;                 // "person_recognised", "device_online", ...
  int64_t ts_ms = 0;
  std::string device_id;            // empty when the event concerns no camera
  uint64_t frame_id = 0;
  std::optional<int64_t> person_id;  // the match (person_recognised) or nearest person (unknown_face)
  std::string name;
  double distance = 0;
  int box_x = 0, box_y = 0, box_w = 0, box_h = 0;
  bool has_thumbnail = false;
  std::optional<bool> feedback_correct;
  std::vector<float> descriptor;    // kept for feedback (a wrong match becomes a negative example)
  std::string message;              // the JSON object sent; empty in rows written before it was kept
};

struct EventQuery {
  int64_t from_ms = 0;
  int64_t to_ms = INT64_MAX;
  std::string device_id;  // empty: any
  std::vector<std::string> types;   // empty: any
  std::optional<int64_t> person_id;  // set: only events about this person (not unknown_face, whose is the nearest)
  std::optional<bool> feedback_correct;  // set: only events given this feedback
  std::optional<int64_t> since_id;  // set: only events after this id, oldest first (paging forward); else newest first
  size_t limit = 100;
};

class Records {
 public:
  // Opens (creating the tables) and removes thumbnail files that no row names (an interrupted write).
  static Result<std::unique_ptr<Records>> Open(const std::string& data_dir);
  virtual ~Records() = default;
  Records(const Records&) = delete;
  Records& operator=(const Records&) = delete;

  // ---- gallery ----
  // Adds a face to the person called `name` (created if new), with its thumbnail (may be empty).
  // InvalidArgument for an empty name or a descriptor of the wrong size.
  virtual Result<GalleryEntry> AddFace(const std::string& name, const std::vector<float>& descriptor,
                                       std::string_view thumbnail_jpeg) = 0;
  // Records a negative example for `person_id`. NotFound if no such person.
  virtual Result<GalleryEntry> AddNegative(int64_t person_id, const std::vector<float>& descriptor) = 0;
  virtual Result<std::vector<GalleryEntry>> LoadGallery() = 0;
  virtual Result<std::vector<PersonSummary>> ListPeople() = 0;
  // Renames a person; returns the name they had. InvalidArgument for a name that is empty or over 128 bytes,
  // NotFound if no such person, Conflict if another person has that name.
  virtual Result<std::string> RenamePerson(int64_t person_id, const std::string& name) = 0;
  // Removes the person's rows and thumbnails; returns the name they had. NotFound if absent.
  virtual Result<std::string> DeletePerson(int64_t person_id) = 0;
  virtual Status DeleteFace(int64_t face_id) = 0;
  virtual Result<std::string> ReadFaceThumbnail(int64_t face_id) = 0;

  // ---- events ----
  // Stores the event (assigning event->id) with an optional thumbnail.
  virtual Status AppendEvent(EventRecord* event, std::string_view thumbnail_jpeg) = 0;
  virtual Result<std::vector<EventRecord>> ListEvents(const EventQuery& query) = 0;  // newest first
  virtual Result<EventRecord> GetEvent(int64_t id) = 0;                              // NotFound if absent
  virtual Status SetFeedback(int64_t event_id, bool correct) = 0;                    // NotFound if absent
  virtual Result<std::string> ReadEventThumbnail(int64_t event_id) = 0;
  // Replaces a recognition event's face with a better one of the same appearance: the descriptor kept for feedback
  // and its thumbnail (may be empty: the old one stays). The message, as sent, stays. NotFound if no such event.
  virtual Status ReplaceEventFace(int64_t event_id, const std::vector<float>& descriptor,
                                  std::string_view thumbnail_jpeg) = 0;
  // Empties the descriptor of every face of a stranger (an unknown_face event, or a person_recognised one marked
  // wrong) from before `before_ms`, so that nobody's face is kept as numbers longer than their footage; returns how
  // many were emptied. Their events, thumbnails included, stay in the log.
  virtual Result<int64_t> ForgetStrangerFaces(int64_t before_ms) = 0;

 protected:
  Records() = default;
};

}  // namespace iotstream::store
