//! The seed inputs under `fuzz/seeds/<target>/`: generated here, never edited by hand.
//!
//! Random bytes almost never form a zip with a `.dist-info/METADATA` in it, a multipart body
//! with a matching boundary, or an OCI index, so without seeds the fuzzer spends its time in
//! the parsers' first checks. Each seed is a realistic input (or an awkward but valid shape)
//! written in the target's input format, so fuzzing starts from inputs that reach deep code.
//!
//! `cargo test -p pyoci-fuzz-properties --test seeds` fails when the committed seeds differ
//! from what this file builds; `PYOCI_WRITE_SEEDS=1` rewrites them.

mod archives;
mod encode;

use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use pyoci_fuzz_properties::{core_metadata, filename, multipart, oci_documents, route};

use archives::{metadata, sdist, wheel, wheel_with_data_descriptors, LongNames};
use encode::{encode, Encode, Encoder};

/// One seed file: `fuzz/seeds/<target>/<name>`.
struct Seed {
    target: &'static str,
    name: String,
    bytes: Vec<u8>,
}

/// The encoding of `$value`, checked to decode back to it (compared by `Debug`) exactly as
/// libfuzzer-sys decodes a whole input into `$type`.
macro_rules! encoded {
    ($value:expr, $type:ty) => {{
        let value = &$value;
        let bytes = encode(value);
        let back = match <$type as Arbitrary>::arbitrary_take_rest(Unstructured::new(&bytes)) {
            Ok(back) => format!("{back:?}"),
            Err(error) => format!("undecodable: {error}"),
        };
        assert_eq!(
            back,
            format!("{value:?}"),
            "the seed does not decode to the input it was built from"
        );
        bytes
    }};
}

// --- core_metadata ------------------------------------------------------------------------

impl Encode for core_metadata::Input<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        self.sdist.encode(encoder);
        self.chunk_sizes.encode(encoder);
        self.archive.encode(encoder);
    }

    fn encode_last(&self, encoder: &mut Encoder) {
        self.sdist.encode(encoder);
        self.chunk_sizes.encode(encoder);
        self.archive.encode_last(encoder);
    }
}

fn core_metadata_seed(name: &str, sdist: bool, chunk_sizes: [u8; 4], archive: &[u8]) -> Seed {
    let input = core_metadata::Input {
        sdist,
        chunk_sizes,
        archive,
    };
    Seed {
        target: "core_metadata",
        name: name.to_owned(),
        bytes: encoded!(input, core_metadata::Input<'_>),
    }
}

fn core_metadata_seeds() -> Vec<Seed> {
    let meta = metadata("hello-seed", "1.0");
    let meta = meta.as_bytes();
    let init: &[u8] = b"def hello():\n    return 'hello'\n";
    let wheel_file: &[u8] =
        b"Wheel-Version: 1.0\nGenerator: seeds\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let record: &[u8] = b"hello_seed/__init__.py,,\nhello_seed-1.0.dist-info/METADATA,,\n";
    let dist_info = "hello_seed-1.0.dist-info";
    let meta_path = format!("{dist_info}/METADATA");
    let wheel_path = format!("{dist_info}/WHEEL");
    let record_path = format!("{dist_info}/RECORD");
    let crlf_meta = "Metadata-Version: 2.1\r\nName: hello-seed\r\nVersion: 1.0\r\n\
                     Summary: folded\r\n  over two lines\r\nKeywords: a,b\r\n\r\nbody\r\n";
    let bare_headers = "Metadata-Version: 1.0\nName: hello-seed\nVersion: 1.0\n";
    let decoy_meta = metadata("vendored", "9.9");

    let mut seeds = vec![
        // What setuptools, hatchling and flit write: code first, then the .dist-info, deflated.
        core_metadata_seed(
            "wheel-deflated-metadata-after-code",
            false,
            [0; 4],
            &wheel(
                &[
                    ("hello_seed/__init__.py", init, true),
                    (&meta_path, meta, true),
                    (&wheel_path, wheel_file, true),
                    (&record_path, record, true),
                ],
                false,
            ),
        ),
        // Stored entries, METADATA first, the upload cut into small uneven chunks.
        core_metadata_seed(
            "wheel-stored-metadata-first-small-chunks",
            false,
            [1, 7, 64, 3],
            &wheel(
                &[
                    (&meta_path, meta, false),
                    ("hello_seed/__init__.py", init, false),
                    (&record_path, record, false),
                ],
                false,
            ),
        ),
        core_metadata_seed(
            "wheel-zip64-local-headers",
            false,
            [200, 0, 0, 0],
            &wheel(
                &[
                    ("hello_seed/__init__.py", init, true),
                    (&meta_path, meta, true),
                ],
                true,
            ),
        ),
        core_metadata_seed(
            "wheel-data-descriptors",
            false,
            [0; 4],
            &wheel_with_data_descriptors(&[
                ("hello_seed/__init__.py", init),
                (&meta_path, meta),
                (&record_path, record),
            ]),
        ),
        // A METADATA deeper than the root .dist-info must not be taken for the wheel's.
        core_metadata_seed(
            "wheel-vendored-dist-info-before-the-root-one",
            false,
            [0; 4],
            &wheel(
                &[
                    (
                        "hello_seed/_vendor/vendored-9.9.dist-info/METADATA",
                        decoy_meta.as_bytes(),
                        true,
                    ),
                    (&meta_path, crlf_meta.as_bytes(), true),
                ],
                false,
            ),
        ),
        core_metadata_seed(
            "wheel-without-metadata",
            false,
            [0; 4],
            &wheel(
                &[
                    ("hello_seed/__init__.py", init, true),
                    (&wheel_path, wheel_file, true),
                ],
                false,
            ),
        ),
        core_metadata_seed(
            "sdist-pkg-info-first",
            true,
            [0; 4],
            &sdist(
                &[
                    ("hello-seed-1.0/PKG-INFO", meta),
                    (
                        "hello-seed-1.0/pyproject.toml",
                        b"[project]\nname = \"hello-seed\"\n",
                    ),
                    ("hello-seed-1.0/hello_seed/__init__.py", init),
                ],
                LongNames::Gnu,
            ),
        ),
        core_metadata_seed(
            "sdist-pkg-info-after-a-nested-one-small-chunks",
            true,
            [5, 100, 0, 0],
            &sdist(
                &[
                    ("hello-seed-1.0/hello_seed/__init__.py", init),
                    (
                        "hello-seed-1.0/src/vendored.egg-info/PKG-INFO",
                        decoy_meta.as_bytes(),
                    ),
                    ("hello-seed-1.0/PKG-INFO", crlf_meta.as_bytes()),
                ],
                LongNames::Gnu,
            ),
        ),
    ];
    let long_dir = format!("hello-seed-1.0/{}", "deep/".repeat(24));
    let long_file = format!("{long_dir}module.py");
    for (name, long_names) in [
        ("sdist-gnu-long-names", LongNames::Gnu),
        ("sdist-pax-long-names", LongNames::Pax),
    ] {
        seeds.push(core_metadata_seed(
            name,
            true,
            [0; 4],
            &sdist(
                &[(&long_file, init), ("hello-seed-1.0/PKG-INFO", meta)],
                long_names,
            ),
        ));
    }
    // Metadata files alone: the header parser's own seeds.
    seeds.push(core_metadata_seed("metadata-2.4", false, [0; 4], meta));
    seeds.push(core_metadata_seed(
        "metadata-crlf-folded",
        false,
        [0; 4],
        crlf_meta.as_bytes(),
    ));
    seeds.push(core_metadata_seed(
        "metadata-headers-only",
        true,
        [0; 4],
        bare_headers.as_bytes(),
    ));
    seeds.push(core_metadata_seed("empty-wheel", false, [0; 4], b""));
    seeds
}

// --- multipart ----------------------------------------------------------------------------

impl Encode for multipart::FormSpec<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        self.before.encode(encoder);
        self.filename.encode(encoder);
        self.content.encode(encoder);
        self.after.encode(encoder);
    }

    fn encode_last(&self, encoder: &mut Encoder) {
        self.before.encode(encoder);
        self.filename.encode(encoder);
        self.content.encode(encoder);
        self.after.encode_last(encoder);
    }
}

impl Encode for multipart::Input<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        self.content_type.encode(encoder);
        self.boundary.encode(encoder);
        self.body.encode(encoder);
        self.chunk_sizes.encode(encoder);
        self.form.encode(encoder);
    }

    fn encode_last(&self, encoder: &mut Encoder) {
        self.content_type.encode(encoder);
        self.boundary.encode(encoder);
        self.body.encode(encoder);
        self.chunk_sizes.encode(encoder);
        self.form.encode_last(encoder);
    }
}

/// One part of a body: its header lines after `Content-Disposition: form-data; `, and content.
struct Part<'a> {
    disposition: &'a str,
    headers: &'a str,
    content: &'a [u8],
}

fn part<'a>(disposition: &'a str, content: &'a [u8]) -> Part<'a> {
    Part {
        disposition,
        headers: "",
        content,
    }
}

/// A multipart/form-data body; `closed` adds the final delimiter.
fn form_body(boundary: &str, preamble: &str, parts: &[Part<'_>], closed: bool) -> Vec<u8> {
    let mut body = preamble.as_bytes().to_vec();
    for part in parts {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; {}\r\n{}\r\n",
                part.disposition, part.headers
            )
            .as_bytes(),
        );
        body.extend_from_slice(part.content);
        body.extend_from_slice(b"\r\n");
    }
    if closed {
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    }
    body
}

fn multipart_seeds() -> Vec<Seed> {
    let wheel_bytes = wheel(
        &[(
            "hello_seed-1.0.dist-info/METADATA",
            metadata("hello-seed", "1.0").as_bytes(),
            true,
        )],
        false,
    );
    let digest = "5f1c2a0b7d3e4f8a9b6c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a";
    let octets = "Content-Type: application/octet-stream\r\n";
    let twine_boundary = "e5a1c8d8f1b24f5d9f6e3a7b2c4d6e8f";
    let twine_fields = [
        (":action", "file_upload"),
        ("protocol_version", "1"),
        ("metadata_version", "2.4"),
        ("name", "hello-seed"),
        ("version", "1.0"),
        ("filetype", "bdist_wheel"),
        ("pyversion", "py3"),
        ("requires_python", ">=3.9"),
    ];
    let mut twine_parts: Vec<Part<'_>> = Vec::new();
    let dispositions: Vec<String> = twine_fields
        .iter()
        .map(|(name, _)| format!("name=\"{name}\""))
        .collect();
    for ((_, value), disposition) in twine_fields.iter().zip(&dispositions) {
        twine_parts.push(part(disposition, value.as_bytes()));
    }
    twine_parts.push(Part {
        disposition: "name=\"content\"; filename=\"hello_seed-1.0-py3-none-any.whl\"",
        headers: octets,
        content: &wheel_bytes,
    });
    twine_parts.push(part("name=\"sha256_digest\"", digest.as_bytes()));
    let twine_body = form_body(twine_boundary, "", &twine_parts, true);
    let twine_type = format!("multipart/form-data; boundary={twine_boundary}");

    // uv: a quoted boundary, the file first, then the fields.
    let uv_boundary = "----uv-boundary-0f3a";
    let uv_body = form_body(
        uv_boundary,
        "",
        &[
            Part {
                disposition: "name=\"content\"; filename=\"hello_seed-1.0.tar.gz\"",
                headers: octets,
                content: b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",
            },
            part("name=\":action\"", b"file_upload"),
            part("name=\"sha256_digest\"", digest.as_bytes()),
        ],
        true,
    );
    let uv_type = format!("multipart/form-data; charset=utf-8; boundary=\"{uv_boundary}\"");

    // Odd but valid: a preamble, part headers in other cases, a text field with its own
    // Content-Type, an RFC 5987 filename, an epilogue.
    let odd_boundary = "odd";
    let mut odd_body = form_body(
        odd_boundary,
        "This preamble is ignored.\r\n",
        &[
            Part {
                disposition: "name=\"summary\"",
                headers: "content-type: text/plain; charset=utf-8\r\n",
                content: "caf\u{e9} \u{2603}".as_bytes(),
            },
            part(
                "name=\"content\"; filename=\"x.whl\"; filename*=UTF-8''h%C3%A9llo-1.0-py3-none-any.whl",
                b"--od not a delimiter\r\n",
            ),
        ],
        true,
    );
    odd_body.extend_from_slice(b"epilogue\r\n");

    // Cut off before the closing delimiter: the client went away.
    let truncated = form_body(
        twine_boundary,
        "",
        &[
            part("name=\"name\"", b"hello-seed"),
            Part {
                disposition: "name=\"content\"; filename=\"hello_seed-1.0-py3-none-any.whl\"",
                headers: octets,
                content: &wheel_bytes[..wheel_bytes.len() / 2],
            },
        ],
        false,
    );

    let form = |before: Vec<(&'static str, &'static str)>, after| multipart::FormSpec {
        before,
        filename: "hello_seed-1.0-py3-none-any.whl",
        content: b"PK\x03\x04 not quite a wheel",
        after,
    };
    let seed = |name: &str, input: multipart::Input<'_>| Seed {
        target: "multipart",
        name: name.to_owned(),
        bytes: encoded!(input, multipart::Input<'_>),
    };
    vec![
        seed(
            "twine-upload-one-chunk",
            multipart::Input {
                content_type: twine_type.as_bytes(),
                boundary: twine_boundary,
                body: &twine_body,
                chunk_sizes: vec![],
                form: form(
                    vec![(":action", "file_upload"), ("name", "hello-seed")],
                    vec![("sha256_digest", digest)],
                ),
            },
        ),
        seed(
            "twine-upload-small-chunks",
            multipart::Input {
                content_type: twine_type.as_bytes(),
                boundary: twine_boundary,
                body: &twine_body,
                chunk_sizes: vec![1, 13, 200, 2],
                form: form(vec![], vec![]),
            },
        ),
        seed(
            "uv-upload-quoted-boundary-file-first",
            multipart::Input {
                content_type: uv_type.as_bytes(),
                boundary: uv_boundary,
                body: &uv_body,
                chunk_sizes: vec![64],
                form: form(vec![], vec![(":action", "file_upload"), ("version", "1.0")]),
            },
        ),
        seed(
            "preamble-epilogue-part-headers",
            multipart::Input {
                content_type: b"Multipart/Form-Data; Boundary=odd",
                boundary: odd_boundary,
                body: &odd_body,
                chunk_sizes: vec![3, 5],
                form: form(vec![("summary", "caf\u{e9}")], vec![]),
            },
        ),
        seed(
            "truncated-before-the-closing-delimiter",
            multipart::Input {
                content_type: twine_type.as_bytes(),
                boundary: twine_boundary,
                body: &truncated,
                chunk_sizes: vec![100],
                form: form(vec![("name", "hello-seed")], vec![]),
            },
        ),
    ]
}

// --- oci_documents ------------------------------------------------------------------------

impl Encode for oci_documents::MethodChoice {
    fn encode(&self, encoder: &mut Encoder) {
        use oci_documents::MethodChoice::*;
        let index = match self {
            Get => 0,
            Head => 1,
            Put => 2,
            Post => 3,
            Patch => 4,
            Delete => 5,
        };
        encoder.variant(index, 6);
    }
}

impl Encode for oci_documents::Input<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        self.document.encode(encoder);
        self.status.encode(encoder);
        self.method.encode(encoder);
        self.what.encode(encoder);
    }

    fn encode_last(&self, encoder: &mut Encoder) {
        self.document.encode(encoder);
        self.status.encode(encoder);
        self.method.encode(encoder);
        self.what.encode_last(encoder);
    }
}

fn oci_documents_seeds() -> Vec<Seed> {
    use oci_documents::MethodChoice;
    let sha = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "artifactType": "application/pyoci.package.v1",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha('a'),
                "size": 512,
                "platform": {"architecture": "py3-none-any.whl", "os": "any"},
                "annotations": {
                    "com.pyoci.sha256_digest": "b".repeat(64),
                    "org.opencontainers.image.created": "2026-01-02T03:04:05Z"
                }
            },
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha('c'),
                "size": 498,
                "platform": {"architecture": ".tar.gz", "os": "any"}
            }
        ],
        "annotations": {"com.pyoci.yanked": "reason: broken"},
        "x-unknown-field": [1, {"kept": true}]
    });
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/pyoci.package.v1",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "size": 2,
            "data": "e30="
        },
        "layers": [{
            "mediaType": "application/pyoci.package.v1",
            "digest": sha('d'),
            "size": 12345,
            "annotations": {"org.opencontainers.image.title": "hello_seed-1.0-py3-none-any.whl"}
        }],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha('e'), "size": 1},
        "annotations": {"org.opencontainers.image.created": "2026-01-02T03:04:05Z"}
    });
    let error = |code: &str, message: &str, detail: serde_json::Value| {
        serde_json::json!({"errors": [{"code": code, "message": message, "detail": detail}]})
            .to_string()
    };
    let documents: Vec<(&str, String, u16, MethodChoice, &str)> = vec![
        ("index", index.to_string(), 200, MethodChoice::Get, "index"),
        (
            "index-pretty",
            serde_json::to_string_pretty(&index).expect("json"),
            200,
            MethodChoice::Get,
            "index",
        ),
        ("manifest", manifest.to_string(), 201, MethodChoice::Put, "manifest"),
        (
            "error-manifest-unknown",
            error("MANIFEST_UNKNOWN", "manifest unknown", serde_json::json!({"Tag": "1.0"})),
            404,
            MethodChoice::Get,
            "manifest hello:1.0",
        ),
        (
            "error-unauthorized-with-access-details",
            error(
                "UNAUTHORIZED",
                "authentication required",
                serde_json::json!([{"Type": "repository", "Name": "ns/hello", "Action": "push"}]),
            ),
            401,
            MethodChoice::Head,
            "blob",
        ),
        (
            "error-two-errors-toomanyrequests",
            r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"},{"code":"DENIED","message":"x"}]}"#
                .to_owned(),
            429,
            MethodChoice::Post,
            "upload",
        ),
        (
            "error-precondition-failed",
            error("MANIFEST_INVALID", "tag moved", serde_json::Value::Null),
            412,
            MethodChoice::Put,
            "index hello:1.0",
        ),
        (
            "error-html-from-a-proxy",
            "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>".to_owned(),
            502,
            MethodChoice::Delete,
            "manifest",
        ),
    ];
    documents
        .into_iter()
        .map(|(name, document, status, method, what)| {
            let input = oci_documents::Input {
                document: document.as_bytes(),
                status,
                method,
                what,
            };
            Seed {
                target: "oci_documents",
                name: name.to_owned(),
                bytes: encoded!(input, oci_documents::Input<'_>),
            }
        })
        .collect()
}

// --- filename -----------------------------------------------------------------------------

impl Encode for filename::Input<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        self.raw.encode(encoder);
        self.name.encode(encoder);
        self.version.encode(encoder);
        self.build.encode(encoder);
        self.python.encode(encoder);
        self.abi.encode(encoder);
        self.platform.encode(encoder);
        self.platform_padding.encode(encoder);
        self.sdist.encode(encoder);
    }
}

/// Seed name, raw filename, then the parts the target assembles a filename from: project,
/// version, build tag, `[python, abi, platform]`, sdist.
type FilenameCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    [&'static str; 3],
    bool,
);

fn filename_seeds() -> Vec<Seed> {
    let cases: [FilenameCase; 6] = [
        (
            "pure-python-wheel",
            "hello_pyoci-1.0.0-py3-none-any.whl",
            "hello_pyoci",
            "1.0.0",
            None,
            ["py3", "none", "any"],
            false,
        ),
        (
            "manylinux-wheel-with-build-tag",
            "numpy-2.1.0-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "numpy",
            "2.1.0",
            Some("1"),
            [
                "cp312",
                "cp312",
                "manylinux_2_17_x86_64.manylinux2014_x86_64",
            ],
            false,
        ),
        (
            "compressed-tag-set",
            "six-1.16.0-py2.py3-none-any.whl",
            "six",
            "1.16.0",
            None,
            ["py2.py3", "none", "any"],
            false,
        ),
        (
            "sdist-with-every-version-part",
            "Hello.Seed_x-1!2.0rc1.post2.dev3+local.7.tar.gz",
            "Hello.Seed_x",
            "1!2.0rc1.post2.dev3+local.7",
            None,
            ["", "", ""],
            true,
        ),
        (
            "sdist-legacy-zip",
            "hello-seed-0.9.zip",
            "hello-seed",
            "0.9",
            None,
            ["", "", ""],
            true,
        ),
        (
            "macos-wheel",
            "pyoci_x-0.1-cp39-abi3-macosx_11_0_arm64.whl",
            "pyoci_x",
            "0.1",
            None,
            ["cp39", "abi3", "macosx_11_0_arm64"],
            false,
        ),
    ];
    cases
        .into_iter()
        .map(
            |(name, raw, project, version, build, [python, abi, platform], sdist)| {
                let input = filename::Input {
                    raw,
                    name: project,
                    version,
                    build,
                    python,
                    abi,
                    platform,
                    platform_padding: 0,
                    sdist,
                };
                Seed {
                    target: "filename",
                    name: name.to_owned(),
                    bytes: encoded!(input, filename::Input<'_>),
                }
            },
        )
        .collect()
}

// --- route --------------------------------------------------------------------------------

impl Encode for route::MethodChoice<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        use route::MethodChoice::*;
        match self {
            Get => encoder.variant(0, 6),
            Head => encoder.variant(1, 6),
            Post => encoder.variant(2, 6),
            Delete => encoder.variant(3, 6),
            Put => encoder.variant(4, 6),
            Other(bytes) => {
                encoder.variant(5, 6);
                bytes.encode(encoder);
            }
        }
    }
}

impl Encode for route::Prefix<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        match self {
            route::Prefix::None => encoder.variant(0, 3),
            route::Prefix::Pyoci => encoder.variant(1, 3),
            route::Prefix::Any(prefix) => {
                encoder.variant(2, 3);
                prefix.encode(encoder);
            }
        }
    }
}

impl Encode for route::Fixed<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        match self {
            route::Fixed::None => encoder.variant(0, 4),
            route::Fixed::Ghcr => encoder.variant(1, 4),
            route::Fixed::LocalHttp => encoder.variant(2, 4),
            route::Fixed::Any { http, authority } => {
                encoder.variant(3, 4);
                http.encode(encoder);
                authority.encode(encoder);
            }
        }
    }
}

impl Encode for route::Input<'_> {
    fn encode(&self, encoder: &mut Encoder) {
        self.method.encode(encoder);
        self.prefix.encode(encoder);
        self.fixed.encode(encoder);
        self.path.encode(encoder);
    }

    fn encode_last(&self, encoder: &mut Encoder) {
        self.method.encode(encoder);
        self.prefix.encode(encoder);
        self.fixed.encode(encoder);
        self.path.encode_last(encoder);
    }
}

fn route_seeds() -> Vec<Seed> {
    use route::{Fixed, MethodChoice, Prefix};
    let local = "/http%3A%2F%2F127.0.0.1%3A5000";
    let cases: Vec<(&str, MethodChoice<'_>, Prefix<'_>, Fixed<'_>, String)> = vec![
        (
            "health",
            MethodChoice::Get,
            Prefix::None,
            Fixed::None,
            "/health".to_owned(),
        ),
        (
            "project-list",
            MethodChoice::Get,
            Prefix::None,
            Fixed::None,
            "/ghcr.io/acme/".to_owned(),
        ),
        (
            "index-page-plain-http-registry",
            MethodChoice::Get,
            Prefix::None,
            Fixed::None,
            format!("{local}/acme/python/hello-seed/"),
        ),
        (
            "index-page-without-slash",
            MethodChoice::Head,
            Prefix::Pyoci,
            Fixed::None,
            "/pyoci/ghcr.io/acme/hello-seed".to_owned(),
        ),
        (
            "file-download",
            MethodChoice::Get,
            Prefix::None,
            Fixed::None,
            "/ghcr.io/acme/team/hello-seed/hello_seed-1.0-py3-none-any.whl".to_owned(),
        ),
        (
            "metadata-download",
            MethodChoice::Get,
            Prefix::None,
            Fixed::None,
            "/ghcr.io/acme/hello-seed/hello_seed-1.0-py3-none-any.whl.metadata".to_owned(),
        ),
        (
            "json-page",
            MethodChoice::Get,
            Prefix::None,
            Fixed::None,
            "/ghcr.io/acme/hello-seed/json".to_owned(),
        ),
        (
            "upload",
            MethodChoice::Post,
            Prefix::None,
            Fixed::None,
            format!("{local}/acme/"),
        ),
        (
            "delete-file",
            MethodChoice::Delete,
            Prefix::None,
            Fixed::None,
            "/ghcr.io/acme/hello-seed/hello_seed-1.0.tar.gz".to_owned(),
        ),
        (
            "delete-version",
            MethodChoice::Delete,
            Prefix::None,
            Fixed::None,
            "/ghcr.io/acme/hello-seed/1.0".to_owned(),
        ),
        (
            "yank",
            MethodChoice::Post,
            Prefix::None,
            Fixed::None,
            "/ghcr.io/acme/hello-seed/+yank/1.0".to_owned(),
        ),
        (
            "fixed-registry-without-segment",
            MethodChoice::Get,
            Prefix::None,
            Fixed::Ghcr,
            "/acme/hello-seed/".to_owned(),
        ),
        (
            "fixed-plain-http-registry-under-a-prefix",
            MethodChoice::Get,
            Prefix::Any("/mirror"),
            Fixed::Any {
                http: true,
                authority: "registry.internal:5000",
            },
            "/mirror/acme/hello-seed/".to_owned(),
        ),
        (
            "odd-method",
            MethodChoice::Other(b"PROPFIND"),
            Prefix::None,
            Fixed::LocalHttp,
            "/acme/Hello_Seed/".to_owned(),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, method, prefix, fixed, path)| {
            let input = route::Input {
                method,
                prefix,
                fixed,
                path: &path,
            };
            Seed {
                target: "route",
                name: name.to_owned(),
                bytes: encoded!(input, route::Input<'_>),
            }
        })
        .collect()
}

// --- version_tag --------------------------------------------------------------------------

fn version_tag_seeds() -> Vec<Seed> {
    [
        ("release", "1.0.0"),
        ("epoch-pre-post-dev-local", "1!2.0rc1.post2.dev3+ubuntu.7"),
        ("unnormalized", "v1.0-ALPHA_2.Post-3"),
        ("tag-of-a-local-version", "1.0.0-local.7"),
        ("long-release", "2026.11.28.1.2.3.4.5"),
    ]
    .into_iter()
    .map(|(name, raw)| Seed {
        target: "version_tag",
        name: name.to_owned(),
        bytes: encoded!(raw, &str),
    })
    .collect()
}

// --- the committed files ------------------------------------------------------------------

fn all_seeds() -> Vec<Seed> {
    [
        core_metadata_seeds(),
        multipart_seeds(),
        oci_documents_seeds(),
        filename_seeds(),
        route_seeds(),
        version_tag_seeds(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds")
}

#[test]
fn committed_seeds_are_the_generated_ones() {
    let seeds = all_seeds();
    let root = seeds_dir();
    let write = std::env::var_os("PYOCI_WRITE_SEEDS").is_some_and(|value| value == "1");
    let mut targets: Vec<&str> = seeds.iter().map(|seed| seed.target).collect();
    targets.dedup();
    let mut problems = Vec::new();
    for target in targets {
        let dir = root.join(target);
        let wanted: Vec<&Seed> = seeds.iter().filter(|seed| seed.target == target).collect();
        if write {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create the seed folder");
            for seed in &wanted {
                std::fs::write(dir.join(&seed.name), &seed.bytes).expect("write a seed");
            }
            continue;
        }
        let mut committed: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        committed.sort();
        let mut names: Vec<String> = wanted.iter().map(|seed| seed.name.clone()).collect();
        names.sort();
        if committed != names {
            problems.push(format!(
                "{target}: committed {committed:?}, generated {names:?}"
            ));
            continue;
        }
        for seed in wanted {
            if std::fs::read(dir.join(&seed.name)).ok().as_deref() != Some(seed.bytes.as_slice()) {
                problems.push(format!("{target}/{} differs", seed.name));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "fuzz/seeds is out of date; regenerate it with \
         `PYOCI_WRITE_SEEDS=1 cargo test -p pyoci-fuzz-properties --test seeds`:\n{}",
        problems.join("\n")
    );
}

/// Seeds that are meant to reach the extractor's end do: a wheel or sdist seed with a
/// METADATA / PKG-INFO must give that file back, or fuzzing would start from inputs that stop
/// early.
#[test]
fn distribution_seeds_give_their_metadata_back() {
    use bytes::Bytes;
    use futures_util::{stream, StreamExt};
    use pyoci_metadata::{DistributionKind, MetadataTap};

    let mut checked = 0;
    for seed in core_metadata_seeds() {
        let reaches_metadata = (seed.name.starts_with("wheel-") || seed.name.starts_with("sdist-"))
            && seed.name != "wheel-without-metadata";
        if !reaches_metadata {
            continue;
        }
        let input = core_metadata::Input::arbitrary_take_rest(Unstructured::new(&seed.bytes))
            .expect("decodes");
        let kind = if input.sdist {
            DistributionKind::Sdist
        } else {
            DistributionKind::Wheel
        };
        let chunks = vec![Ok::<_, std::io::Error>(Bytes::copy_from_slice(
            input.archive,
        ))];
        let (tap, handle) = MetadataTap::new(stream::iter(chunks), kind, None);
        let _: Vec<_> = futures_executor::block_on(tap.collect());
        match handle.result() {
            Ok(Some(found)) => {
                let text = String::from_utf8_lossy(&found.bytes);
                assert!(text.contains("Name: hello-seed"), "{}: {text}", seed.name);
            }
            other => panic!("{}: no metadata found: {other:?}", seed.name),
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} distribution seeds checked");
}
