#include "store/records.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/test_support.h"

namespace iotstream::store {
namespace {

namespace fs = std::filesystem;
using iotstream::testing::TempDir;

std::vector<float> Desc(float v) { return std::vector<float>(128, v); }

TEST(Records, GalleryAddListLoadDelete) {
  TempDir dir;
  auto r = Records::Open(dir.path().string()).value();
  auto a1 = r->AddFace("alice", Desc(0.1f), "jpeg-a1");
  ASSERT_TRUE(a1.ok()) << a1.status().ToString();
  auto a2 = r->AddFace("alice", Desc(0.2f), "");
  auto b1 = r->AddFace("bob", Desc(0.3f), "jpeg-b1");
  ASSERT_TRUE(a2.ok() && b1.ok());
  EXPECT_EQ(a1.value().person_id, a2.value().person_id);  // same name, same person
  EXPECT_NE(a1.value().person_id, b1.value().person_id);
  EXPECT_NE(a1.value().face_id, a2.value().face_id);
  EXPECT_TRUE(r->AddFace("", Desc(0.1f), "").status().IsInvalidArgument());
  EXPECT_TRUE(r->AddFace("x", std::vector<float>(3), "").status().IsInvalidArgument());

  auto neg = r->AddNegative(b1.value().person_id, Desc(0.9f));
  ASSERT_TRUE(neg.ok());
  EXPECT_TRUE(neg.value().negative);
  EXPECT_TRUE(r->AddNegative(999, Desc(0.9f)).status().IsNotFound());

  auto people = r->ListPeople().value();
  ASSERT_EQ(people.size(), 2u);
  EXPECT_EQ(people[0].name, "alice");
  EXPECT_EQ(people[0].face_ids.size(), 2u);
  EXPECT_EQ(people[1].face_ids.size(), 1u);  // the negative is not a face of bob
  EXPECT_EQ(r->ReadFaceThumbnail(a1.value().face_id).value(), "jpeg-a1");
  EXPECT_TRUE(r->ReadFaceThumbnail(a2.value().face_id).status().IsNotFound());

  r.reset();
  r = Records::Open(dir.path().string()).value();  // survives a reopen
  auto gallery = r->LoadGallery().value();
  ASSERT_EQ(gallery.size(), 4u);
  EXPECT_FLOAT_EQ(gallery[1].descriptor[5], 0.2f);
  EXPECT_TRUE(gallery[3].negative);

  const int64_t bob = b1.value().person_id;
  EXPECT_TRUE(r->RenamePerson(bob, "alice").status().IsConflict());
  EXPECT_TRUE(r->RenamePerson(bob, "").status().IsInvalidArgument());
  EXPECT_TRUE(r->RenamePerson(999, "carol").status().IsNotFound());
  EXPECT_EQ(r->RenamePerson(bob, "robert").value(), "bob");
  EXPECT_EQ(r->RenamePerson(bob, "robert").value(), "robert");  // the same name again is no change
  EXPECT_EQ(r->LoadGallery().value()[2].name, "robert");
  EXPECT_FALSE(r->AddFace("robert", Desc(0.3f), "").value().new_person);
  EXPECT_TRUE(r->AddFace("carol", Desc(0.4f), "").value().new_person);

  EXPECT_TRUE(r->DeleteFace(a2.value().face_id).ok());
  EXPECT_TRUE(r->DeleteFace(a2.value().face_id).IsNotFound());
  EXPECT_EQ(r->DeletePerson(b1.value().person_id).value(), "robert");
  EXPECT_TRUE(r->DeletePerson(b1.value().person_id).status().IsNotFound());
  EXPECT_TRUE(r->ReadFaceThumbnail(b1.value().face_id).status().IsNotFound());
  EXPECT_EQ(r->LoadGallery().value().size(), 2u);  // alice's a1 and carol's face
}

TEST(Records, EventsAppendListFeedbackAndOrphans) {
  TempDir dir;
  auto r = Records::Open(dir.path().string()).value();
  EventRecord e;
  e.type = "person_recognised";
  e.ts_ms = 1000;
  e.device_id = "door";
  e.frame_id = 7;
  e.person_id = 3;
  e.name = "alice";
  e.distance = 0.31;
  e.box_w = 80;
  e.descriptor = Desc(0.5f);
  ASSERT_TRUE(r->AppendEvent(&e, "thumb").ok());
  EXPECT_GT(e.id, 0);
  EventRecord u;
  u.type = "unknown_face";
  u.ts_ms = 2000;
  u.device_id = "yard";
  u.descriptor = Desc(0.6f);
  ASSERT_TRUE(r->AppendEvent(&u, "").ok());

  auto all = r->ListEvents({}).value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, u.id);  // newest first
  EXPECT_FALSE(all[0].person_id.has_value());
  EventQuery only_door;
  only_door.device_id = "door";
  EXPECT_EQ(r->ListEvents(only_door).value().size(), 1u);
  EventQuery later;
  later.from_ms = 1500;
  EXPECT_EQ(r->ListEvents(later).value().size(), 1u);
  EventQuery both_kinds;
  both_kinds.types = {"unknown_face", "person_recognised"};
  EXPECT_EQ(r->ListEvents(both_kinds).value().size(), 2u);
  both_kinds.types = {"device_online"};
  EXPECT_EQ(r->ListEvents(both_kinds).value().size(), 0u);
  EventQuery about;
  about.person_id = e.person_id;
  ASSERT_EQ(r->ListEvents(about).value().size(), 1u);
  EXPECT_EQ(r->ListEvents(about).value()[0].id, e.id);
  EventQuery reviewed;
  reviewed.feedback_correct = false;
  EXPECT_EQ(r->ListEvents(reviewed).value().size(), 0u);

  auto got = r->GetEvent(e.id).value();
  EXPECT_EQ(got.name, "alice");
  EXPECT_DOUBLE_EQ(got.distance, 0.31);
  EXPECT_EQ(got.box_w, 80);
  EXPECT_EQ(got.descriptor.size(), 128u);
  EXPECT_FALSE(got.feedback_correct.has_value());
  EXPECT_TRUE(r->SetFeedback(e.id, false).ok());
  EXPECT_EQ(r->GetEvent(e.id).value().feedback_correct, false);
  ASSERT_EQ(r->ListEvents(reviewed).value().size(), 1u);
  // Strangers' faces (the unknown one, and alice's match now marked wrong) are forgotten, their events kept.
  EXPECT_EQ(r->ForgetStrangerFaces(1500).value(), 1);
  EXPECT_TRUE(r->GetEvent(e.id).value().descriptor.empty());
  EXPECT_EQ(r->GetEvent(u.id).value().descriptor.size(), 128u);
  EXPECT_EQ(r->ForgetStrangerFaces(3000).value(), 1);
  EXPECT_TRUE(r->GetEvent(u.id).value().descriptor.empty());
  EXPECT_EQ(r->ForgetStrangerFaces(3000).value(), 0);
  EXPECT_EQ(r->ListEvents({}).value().size(), 2u);
  EXPECT_EQ(r->ListEvents(reviewed).value()[0].id, e.id);
  EXPECT_TRUE(r->SetFeedback(999, true).IsNotFound());
  EXPECT_EQ(r->ReadEventThumbnail(e.id).value(), "thumb");

  // A thumbnail written by an append that never committed is removed at the next open.
  r.reset();
  const fs::path orphan = dir.path() / "faces" / "4242.jpg";
  { std::ofstream(orphan) << "x"; }
  r = Records::Open(dir.path().string()).value();
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_EQ(r->ReadEventThumbnail(e.id).value(), "thumb");
}

}  // namespace
}  // namespace iotstream::store
