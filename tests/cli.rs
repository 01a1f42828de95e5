//! The binary as scripts use it: `--json` shapes, exit codes, the profile.

mod util;

use std::path::Path;

use util::{backends, emtrace, fixture, json_lines};

/// A small archive made here: a JEOL sidecar pair (fixture sidecar, synthetic
/// image), a Hitachi pair with a Shift-JIS sidecar, an image without metadata,
/// a broken TIFF and a text file that is not an image.
fn synthetic_archive(root: &Path) {
    let jeol = root.join("petrova/2019/catalysts");
    std::fs::create_dir_all(&jeol).unwrap();
    // 640 px wide: half the 1280 px the micron bar was measured on.
    let img = image::GrayImage::from_fn(640, 480, |x, y| image::Luma([((x * 7 + y * 13) % 251) as u8]));
    img.save(jeol.join("pt_c_001.tif")).unwrap();
    std::fs::copy(fixture("jeol/pt_c_001.txt"), jeol.join("pt_c_001.txt")).unwrap();

    let hitachi = root.join("ivanov/2021/zeolites");
    std::fs::create_dir_all(&hitachi).unwrap();
    let mut img = image::GrayImage::from_fn(1280, 960, |x, y| image::Luma([((x * 31 + y * 17) % 253) as u8]));
    for y in 900..960 {
        for x in 0..1280 {
            // A black data bar with white "text" every few pixels.
            img.put_pixel(x, y, image::Luma([if x % 9 == 0 && y % 4 == 0 { 255 } else { 0 }]));
        }
    }
    img.save(hitachi.join("試料_001.tif")).unwrap();
    let sidecar = "[SemImageFile]\r\nInstructName=SU8000\r\nSerialNumber=1234-01\r\nImageName=other_name.tif\r\nDirectory=D:\\SemImage\\ivanov\\\r\nDate=03/15/2021\r\nTime=09:05:00\r\nDataSize=1280x960\r\nPixelSize=9.921875\r\nSignalName=SE(U)\r\nAcceleratingVoltage=5000 Volt\r\nMagnification=10000\r\nWorkingDistance=8000 um\r\nComment=ゼオライト\r\n";
    let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(sidecar);
    std::fs::write(hitachi.join("試料_001.txt"), &bytes).unwrap();

    let misc = root.join("misc");
    std::fs::create_dir_all(&misc).unwrap();
    image::GrayImage::from_fn(64, 48, |x, _| image::Luma([x as u8])).save(misc.join("plain.png")).unwrap();
    std::fs::write(misc.join("broken.tif"), b"II*\0\x08\0\0\0\x03\0\0\x01\x03\0").unwrap();
    std::fs::write(misc.join("notes.txt"), "not an image").unwrap();
    // A sidecar that is neither Hitachi nor JEOL: the image is kept, the problem noted.
    std::fs::write(misc.join("plain.txt"), [0xFFu8, 0xFE, 0x00, 0xD8, 0x41]).unwrap();
}

fn row<'a>(rows: &'a [serde_json::Value], path: &str) -> &'a serde_json::Value {
    rows.iter().find(|r| r["path"] == path).unwrap_or_else(|| panic!("{path} not listed"))
}

#[tokio::test]
async fn scan_list_stats_json() {
    let tmp = tempfile::tempdir().unwrap();
    for db in backends(tmp.path()).await {
        let root = tmp.path().join(format!("archive-{}", db.backend));
        synthetic_archive(&root);
        let out =
            emtrace(tmp.path()).args(["--db", &db.url, "--json", "archive", "scan"]).arg(&root).assert().success();
        let summary = &json_lines(&out.get_output().stdout)[0];
        assert_eq!(summary["seen"], 4, "{}: {summary}", db.backend);
        assert_eq!(summary["new"], 4);
        assert_eq!(summary["unreadable"], 1);
        assert_eq!(summary["errors"][0]["path"], "misc/broken.tif");

        let out = emtrace(tmp.path()).args(["--db", &db.url, "--json", "archive", "list"]).assert().success();
        let rows = json_lines(&out.get_output().stdout);
        assert_eq!(rows.len(), 4);
        for key in [
            "path",
            "root",
            "vendor",
            "instrument",
            "modality",
            "detector",
            "acquired_at",
            "pixel_size_nm",
            "magnification",
            "width",
            "height",
            "databar_rows",
            "user",
            "project",
            "content_hash",
            "error",
        ] {
            assert!(rows.iter().all(|r| r.get(key).is_some()), "key {key} missing");
        }
        let jeol = row(&rows, "petrova/2019/catalysts/pt_c_001.tif");
        assert_eq!(jeol["instrument"], "JEOL JSM-7600F");
        assert_eq!(jeol["acquired_at"], "2019-03-12T11:23:01");
        // 1 µm over 256 px at 1280 px wide, saved 640 px wide.
        assert!((jeol["pixel_size_nm"].as_f64().unwrap() - 7.8125).abs() < 1e-9);
        assert_eq!(jeol["user"], "petrova");
        assert_eq!(jeol["modality"], "SEM");
        let hitachi = row(&rows, "ivanov/2021/zeolites/試料_001.tif");
        assert_eq!(hitachi["instrument"], "Hitachi SU8000");
        assert_eq!(hitachi["acquired_at"], "2021-03-15T09:05:00");
        assert_eq!(hitachi["detector"], "SE(U)");
        assert_eq!(hitachi["databar_rows"], 60);
        assert_eq!(hitachi["user"], "ivanov");
        let plain = row(&rows, "misc/plain.png");
        assert_eq!(plain["vendor"], "unknown");
        assert_eq!(plain["width"], 64);
        assert_eq!(plain["instrument"], serde_json::Value::Null);
        assert_eq!(plain["state"], "present");
        assert!(plain["error"].as_str().unwrap().contains("sidecar"), "{plain}");
        let broken = row(&rows, "misc/broken.tif");
        assert_eq!(broken["state"], "unreadable");
        assert!(broken["error"].as_str().unwrap().contains("corrupt"), "{broken}");

        let out = emtrace(tmp.path()).args(["--db", &db.url, "--json", "archive", "stats"]).assert().success();
        let stats = &json_lines(&out.get_output().stdout)[0];
        assert_eq!(stats["images"], 4);
        assert_eq!(stats["unreadable"], 1);
        let instruments: Vec<_> =
            stats["by_instrument"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap().to_string()).collect();
        assert!(
            instruments.contains(&"Hitachi SU8000".to_string()) && instruments.contains(&"JEOL JSM-7600F".to_string())
        );
        // Hitachi: 9.92 nm × 1280 px = 12.7 µm field, a 1 µm bar; JEOL: 5 µm field, a 100 nm bar.
        let bars = &stats["scale_bar"];
        assert!(bars.as_array().unwrap().iter().any(|c| c["key"] == "1 µm" && c["images"] == 1), "{bars}");
        assert!(bars.as_array().unwrap().iter().any(|c| c["key"] == "100 nm" && c["images"] == 1), "{bars}");

        let out = emtrace(tmp.path()).args(["--db", &db.url, "archive", "stats", "--csv"]).assert().success();
        let csv = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        assert!(csv.starts_with("table,key,key2,images\n"), "{csv}");
        assert!(csv.contains("year_modality,2021,SEM,1\n"), "{csv}");
        assert!(csv.contains("user_project,ivanov,(unknown),1\n"), "{csv}");
    }
}

#[test]
fn init_writes_a_profile_that_loads() {
    let tmp = tempfile::tempdir().unwrap();
    emtrace(tmp.path()).args(["init"]).assert().success();
    assert!(tmp.path().join("emtrace.toml").exists());
    emtrace(tmp.path()).args(["init"]).assert().code(2);
    // The written profile is picked up from the current directory; it names no roots.
    let out = emtrace(tmp.path()).args(["archive", "scan"]).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("no archive directory"));
}

#[test]
fn example_profile_loads() {
    let p = emtrace::config::Profile::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/zioc.toml")).unwrap();
    assert!(p.facility.contains("Zelinsky"));
    let models: Vec<_> = p.instruments.iter().map(|i| i.model.as_str()).collect();
    assert_eq!(models, ["SU8000", "SU8230", "HT7700"]);
    assert!(p.instruments.iter().any(|i| i.synonyms.iter().any(|s| s == "Regulus 8230")));
}

#[test]
fn bad_profile_and_missing_root_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("bad.toml"), "facilty = 'typo'\n").unwrap();
    let out = emtrace(tmp.path()).args(["--config", "bad.toml", "archive", "scan", "."]).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("unknown field"));
    let out = emtrace(tmp.path()).args(["archive", "scan", "no/such/dir"]).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("no/such/dir"));
    let out = emtrace(tmp.path()).args(["--db", "mysql://x", "archive", "list"]).assert().code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("unsupported database URL"));
}
