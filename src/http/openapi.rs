//! The OpenAPI 3 description of the service (`GET /openapi.json`). Integration tests call every
//! operation listed here against the real server, and a unit test checks it against [`ROUTES`],
//! the table the `Allow` header of each path is made from. (The server's registrations in
//! `serve()` are still a second copy of this table; generating both from one table is open.)

use serde_json::{json, Value};

/// Every route: method and path, as registered by the server.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/search"),
    ("post", "/v1/answer"),
    ("get", "/v1/documents/{id}"),
    ("put", "/v1/documents/{id}"),
    ("delete", "/v1/documents/{id}"),
    ("post", "/v1/reindex"),
    ("get", "/v1/jobs/{id}"),
    ("delete", "/v1/jobs/{id}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn errors(codes: &[(&str, &str)]) -> serde_json::Map<String, Value> {
    codes
        .iter()
        .map(|(c, d)| (c.to_string(), error_response(d)))
        .collect()
}

fn with(mut ok: serde_json::Map<String, Value>, more: serde_json::Map<String, Value>) -> Value {
    ok.extend(more);
    Value::Object(ok)
}

fn ok(code: &str, description: &str, schema: Value) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        code.into(),
        json!({"description": description, "content": {"application/json": {"schema": schema}}}),
    );
    m
}

/// The document.
pub fn document() -> Value {
    let auth = [
        ("401", "missing or unknown API key"),
        ("403", "the key's role may not do this"),
    ];
    let busy = [
        ("503", "not ready, saturated (Retry-After) or timed out"),
        ("500", "internal error"),
    ];
    let body = [
        ("400", "malformed JSON, unknown field, bad value"),
        ("413", "body over the limit"),
    ];
    let mut search_err = errors(&auth);
    search_err.extend(errors(&body));
    search_err.extend(errors(&busy));
    let mut put_err = search_err.clone();
    put_err.extend(errors(&[
        ("409", "the id belongs to a corpus file"),
        ("422", "the document does not parse"),
    ]));
    let mut id_err = errors(&auth);
    id_err.extend(errors(&[(
        "404",
        "no such document (or not visible to this key)",
    )]));
    id_err.extend(errors(&busy));
    let mut job_err = errors(&auth);
    job_err.extend(errors(&[("404", "no such job")]));
    let mut del_err = errors(&auth);
    del_err.extend(errors(&[
        ("404", "no such uploaded document"),
        ("409", "the document comes from a corpus file"),
    ]));
    let id_param = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"}}]);
    let job_param = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}]);
    let job_accepted = ok(
        "202",
        "queued; poll the job",
        json!({"$ref": "#/components/schemas/Job"}),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "kefu",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Knowledge-base search for customer service (Chinese and English). Authenticate with `Authorization: Bearer <key>` (or `X-Api-Key`). Roles: bot (public passages only), agent (also internal), writer (documents, reindex, jobs), admin (everything). Errors are {\"error\": {\"code\", \"message\"}}."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "SearchRequest": {"type": "object", "required": ["query"], "additionalProperties": false, "properties": {
                    "query": {"type": "string", "description": "the question or keywords (search.max_query_bytes at most)"},
                    "mode": {"type": "string", "enum": ["bm25", "vector", "hybrid"], "default": "hybrid"},
                    "top_k": {"type": "integer", "minimum": 1, "description": "1..search.max_top_k (default search.top_k)"},
                    "filters": {"type": "object", "description": "type, product, lang, audience, tag, category, doc_id: a string or a list of alternatives", "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}},
                    "fusion": {"type": "object", "description": "override of [search.fusion] for this request: method (weighted|rrf), rrf_k, lexical_weight, vector_weight, candidates, lexical_scale (coverage|minmax)"},
                    "rerank": {"type": "boolean", "default": true, "description": "rerank hybrid results with the second-stage ranker"}
                }},
                "AnswerRequest": {"type": "object", "required": ["question"], "additionalProperties": false, "properties": {
                    "question": {"type": "string"},
                    "filters": {"type": "object", "description": "as in SearchRequest"},
                    "passages": {"type": "integer", "minimum": 1, "maximum": 50, "description": "passages retrieved as evidence (default answer.passages, 5)"},
                    "composer": {"type": "string", "enum": ["extractive", "llm"], "description": "llm (the default when [answer.llm] is configured) or extractive"},
                    "stream": {"type": "boolean", "default": false, "description": "server-sent events: `sentence` (each checked sentence with its citations), `reset` (the LLM reply was dropped; the extractive sentences follow), then `answer` (the whole AnswerResponse) or `error`"}
                }},
                "Citation": {"type": "object", "properties": {
                    "n": {"type": "integer", "description": "the [n] marker: index into passages (1-based)"},
                    "chunk_id": {"type": "string"}, "doc_id": {"type": "string"}, "title": {"type": "string"},
                    "heading_path": {"type": "array", "items": {"type": "string"}}, "source": {"type": "string"},
                    "span": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2, "description": "byte range of the supporting text in the source file"},
                    "quote": {"type": "string"}
                }},
                "AnswerResponse": {"type": "object", "properties": {
                    "generation": {"type": "integer"}, "question": {"type": "string"},
                    "language": {"type": "string", "enum": ["en", "zh"]},
                    "text": {"type": "string", "description": "the answer with [n] markers, or the hand-off message when abstaining"},
                    "sentences": {"type": "array", "items": {"type": "object", "properties": {"text": {"type": "string"}, "citations": {"type": "array", "items": {"$ref": "#/components/schemas/Citation"}}}}},
                    "passages": {"type": "array", "items": {"type": "object", "description": "the cited passages, numbered n"}},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                    "abstained": {"type": "boolean"},
                    "reason": {"type": "string", "enum": ["no_evidence", "low_confidence", "conflicting_sources", "out_of_scope"]},
                    "handoff": {"type": "object", "properties": {"message": {"type": "string"}}},
                    "composer": {"type": "string", "enum": ["extractive", "llm", "extractive_fallback"]},
                    "notes": {"type": "array", "items": {"type": "string"}},
                    "mode": {"type": "string"}, "warnings": {"type": "array", "items": {"type": "string"}},
                    "timings": {"type": "object", "properties": {"embed_ms": {"type": "number"}, "rerank_ms": {"type": "number"}, "retrieve_ms": {"type": "number"}, "compose_ms": {"type": "number"}, "total_ms": {"type": "number"}}}
                }},
                "Hit": {"type": "object", "properties": {
                    "rank": {"type": "integer"}, "score": {"type": "number"},
                    "scores": {"type": "object", "properties": {"bm25": {"type": "number"}, "vector": {"type": "number"}, "fused": {"type": "number"}, "rerank": {"type": "number"}}},
                    "chunk_id": {"type": "string"}, "doc_id": {"type": "string"}, "title": {"type": "string"},
                    "heading_path": {"type": "array", "items": {"type": "string"}},
                    "doc_type": {"type": "string"}, "language": {"type": "string"}, "audience": {"type": "string"},
                    "products": {"type": "array", "items": {"type": "string"}}, "source": {"type": "string"},
                    "span": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
                    "text": {"type": "string"}, "snippet": {"type": "object"}
                }},
                "SearchResponse": {"type": "object", "properties": {
                    "mode": {"type": "string"}, "generation": {"type": "integer"}, "took_ms": {"type": "number"},
                    "embed_ms": {"type": "number"}, "warnings": {"type": "array", "items": {"type": "string"}},
                    "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}
                }},
                "Document": {"type": "object", "properties": {
                    "doc_id": {"type": "string"}, "title": {"type": "string"}, "doc_type": {"type": "string"},
                    "language": {"type": "string"}, "audience": {"type": "string"}, "source": {"type": "string"},
                    "products": {"type": "array", "items": {"type": "string"}},
                    "passages": {"type": "array", "items": {"type": "object"}}
                }},
                "Upload": {"type": "object", "required": ["format", "content"], "additionalProperties": false, "properties": {
                    "format": {"type": "string", "enum": ["markdown", "html", "text", "ticket"]},
                    "content": {"description": "the source text, or the ticket as a JSON object"},
                    "metadata": {"type": "object", "description": "front-matter keys: title, doc_type, language, audience, products, category, tags, effective_date, version, warranty"}
                }},
                "Job": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "kind": {"type": "string", "enum": ["startup", "reindex", "put_document", "delete_document"]},
                    "state": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
                    "document_id": {"type": "string"}, "created_at": {"type": "string"}, "started_at": {"type": "string"}, "finished_at": {"type": "string"},
                    "progress": {"type": "object", "properties": {"phase": {"type": "string"}, "done": {"type": "integer"}, "total": {"type": "integer"}}},
                    "report": {"type": "object", "description": "files added/changed/removed/failed, documents, passages, generation"},
                    "document": {"type": "object", "description": "for a document's job: whether the live index holds the document after the run, and its passages", "properties": {"id": {"type": "string"}, "indexed": {"type": "boolean"}, "passages": {"type": "integer"}}},
                    "error": {"type": "string"}
                }}
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/v1/search": {"post": {
                "summary": "Search the knowledge base (bots see public passages only)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SearchRequest"}}}},
                "responses": with(ok("200", "ranked passages", json!({"$ref": "#/components/schemas/SearchResponse"})), search_err.clone())
            }},
            "/v1/answer": {"post": {
                "summary": "Answer a question with a citation for every sentence, or abstain with a reason and a hand-off (bots cite public passages only)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnswerRequest"}}}},
                "responses": with(ok("200", "the answer", json!({"$ref": "#/components/schemas/AnswerResponse"})), search_err)
            }},
            "/v1/documents/{id}": {
                "parameters": id_param,
                "get": {"summary": "A document and its passages (bots: public documents only)",
                    "responses": with(ok("200", "the document", json!({"$ref": "#/components/schemas/Document"})), id_err)},
                "put": {"summary": "Create or replace an uploaded document (writer)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Upload"}}}},
                    "responses": with(job_accepted.clone(), put_err)},
                "delete": {"summary": "Remove an uploaded document (writer)",
                    "responses": with(job_accepted.clone(), del_err)}
            },
            "/v1/reindex": {"post": {"summary": "Reindex the corpus in the background (writer)",
                "responses": with(job_accepted, errors(&auth))}},
            "/v1/jobs/{id}": {"get": {"summary": "A job's state, progress, counts and errors (writer)",
                "parameters": job_param.clone(),
                "responses": with(ok("200", "the job", json!({"$ref": "#/components/schemas/Job"})), job_err.clone())},
                "delete": {"summary": "Cancel a job that has not finished (writer); a running job stops at its next check and the live index is unchanged",
                "parameters": job_param,
                "responses": with(ok("200", "the cancelled job", json!({"$ref": "#/components/schemas/Job"})), with(job_err, errors(&[("409", "the job has already finished")])).as_object().cloned().unwrap_or_default())}},
            "/healthz": {"get": {"summary": "The process is up", "security": [],
                "responses": ok("200", "up", json!({"type": "object"}))}},
            "/readyz": {"get": {"summary": "An index generation is loaded", "security": [],
                "responses": with(ok("200", "ready", json!({"type": "object"})), errors(&[("503", "not ready yet")]))}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                "responses": ok("200", "OpenAPI 3", json!({"type": "object"}))}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_lists_exactly_the_routes() {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        let mut listed = Vec::new();
        for (path, item) in paths {
            for method in ["get", "put", "post", "delete", "patch"] {
                if item.get(method).is_some() {
                    listed.push((method.to_string(), path.clone()));
                }
            }
        }
        let mut routes: Vec<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        listed.sort();
        routes.sort();
        assert_eq!(listed, routes);
    }
}
