// The webhooks API (main port):
//
//   POST   /api/v1/webhooks         {"url", "secret"?, "types"?, "cameras"?, "persons"?, "not_persons"?} -> 201, the
//                                   webhook with its id (the secret is shown in this answer only)
//   GET    /api/v1/webhooks         {"webhooks":[...], "count": n}, each with its delivery status
//   DELETE /api/v1/webhooks/{id}    forget it and what it is still owed
//
// Store work runs on the WorkPool: handlers never block an I/O thread. Lifetime: `webhooks` and `disk_pool` must
// outlive the server the routes are given to. Creations and deletions go to `audit`.
#pragma once

#include "api/audit.h"
#include "core/work_pool.h"
#include "http/http.h"
#include "notify/webhooks.h"

namespace iotstream::api {

void AddWebhookRoutes(http::Router& router, notify::WebhookPublisher& webhooks, WorkPool& disk_pool, AuditTrail& audit);

}  // namespace iotstream::api
