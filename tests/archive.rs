//! Archive scan over the real vendor files in ../shared/data/archive and over
//! archives the tests build, on SQLite and (when it answers) PostgreSQL.

mod util;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use emtrace::archive::{self, scan, ScanOptions};
use emtrace::config::{PathRule, Profile};
use emtrace::store::acquisition::Acquisition;
use util::{backends, shared};

fn opts(roots: Vec<PathBuf>) -> ScanOptions {
    ScanOptions { roots, ..Default::default() }
}

fn by_path(rows: Vec<Acquisition>) -> HashMap<String, Acquisition> {
    rows.into_iter().map(|r| (r.path.clone(), r)).collect()
}

fn close(a: Option<f64>, b: f64, rel: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() <= rel * b.abs())
}

/// Values read by hand from the files (tifffile, the sidecars, the DM tag tree).
struct Expect {
    path: &'static str,
    instrument: &'static str,
    vendor: &'static str,
    modality: &'static str,
    acquired_at: &'static str,
    pixel_size_nm: Option<f64>,
    databar_rows: Option<i64>,
}

const EXPECTED: &[Expect] = &[
    Expect {
        path: "hitachi-tm4000/sample-１_600倍(x600).tif",
        instrument: "Hitachi TM4000",
        vendor: "hitachi",
        modality: "SEM",
        acquired_at: "2021-06-23T16:41:13",
        pixel_size_nm: Some(165.3646),
        databar_rows: Some(59),
    },
    Expect {
        path: "hitachi-tm4000/sample-１_200倍(x200).tif",
        instrument: "Hitachi TM4000",
        vendor: "hitachi",
        modality: "SEM",
        acquired_at: "2021-06-23T16:38:33",
        pixel_size_nm: Some(496.0938),
        databar_rows: Some(59),
    },
    Expect {
        path: "zeiss-auriga-tungsten/HTHD/3mm62.tif",
        instrument: "Zeiss Auriga",
        vendor: "zeiss",
        modality: "SEM",
        acquired_at: "2018-12-04T20:56:52",
        pixel_size_nm: Some(27.9125),
        databar_rows: Some(70),
    },
    Expect {
        path: "zeiss-auriga-tungsten/LTHD/8mm39.tif",
        instrument: "Zeiss Auriga",
        vendor: "zeiss",
        modality: "SEM",
        acquired_at: "2018-12-04T19:25:40",
        pixel_size_nm: Some(55.825),
        databar_rows: Some(70),
    },
    Expect {
        path: "tescan-zeiss-igic/Zeiss_1.tif",
        instrument: "Zeiss NVision",
        vendor: "zeiss",
        modality: "SEM",
        acquired_at: "2019-01-16T18:02:26",
        pixel_size_nm: Some(5.859541),
        databar_rows: Some(69),
    },
    Expect {
        path: "rosettasciio/tiff/test_tiff_Zeiss_SEM_1k.tif",
        instrument: "Zeiss Merlin",
        vendor: "zeiss",
        modality: "SEM",
        acquired_at: "2015-12-23T09:40:32",
        pixel_size_nm: Some(2614.514),
        databar_rows: Some(77),
    },
    // A 512-pixel copy of a 1024-pixel frame: the metadata's pixel size is
    // the frame's (5.825 nm), its 5.965 µm field over 512 pixels the copy's.
    Expect {
        path: "rosettasciio/tiff/test_tiff_Zeiss_SEM_512pix.tif",
        instrument: "Zeiss ULTRA",
        vendor: "zeiss",
        modality: "SEM",
        acquired_at: "2018-09-25T08:20:42",
        pixel_size_nm: Some(11.650390625),
        databar_rows: Some(34),
    },
    Expect {
        path: "nexuslims/quanta_image.tif",
        instrument: "FEI Quanta FEG",
        vendor: "fei",
        modality: "SEM",
        acquired_at: "2017-12-18T13:04:14",
        pixel_size_nm: Some(441.942),
        databar_rows: Some(59),
    },
    Expect {
        path: "rosettasciio/tiff/FEI-Helios-Ebeam-8bits.tif",
        instrument: "FEI Helios NanoLab 660",
        vendor: "fei",
        modality: "SEM",
        acquired_at: "2016-06-13T17:06:40",
        pixel_size_nm: Some(3372.4),
        databar_rows: Some(29),
    },
    Expect {
        path: "nexuslims/scios_xml_metadata.tif",
        instrument: "FEI Scios 2",
        vendor: "fei",
        modality: "SEM",
        acquired_at: "2024-05-01T12:56:16",
        pixel_size_nm: Some(26.9792),
        databar_rows: None,
    },
    Expect {
        path: "nexuslims/titan_tem_bf_image_dataZeroed.tif",
        instrument: "FEI Tecnai",
        vendor: "fei",
        modality: "TEM",
        acquired_at: "",
        pixel_size_nm: None,
        databar_rows: None,
    },
    Expect {
        path: "tescan-zeiss-igic/Tescan_1.TIF",
        instrument: "TESCAN AMBER",
        vendor: "tescan",
        modality: "SEM",
        acquired_at: "2023-03-24T08:08:25",
        pixel_size_nm: Some(4.537772),
        databar_rows: Some(179),
    },
    Expect {
        path: "nexuslims/tescan-pfib_dataZeroed/tescan-pfib_dataZeroed.tif",
        instrument: "TESCAN AMBER X",
        vendor: "tescan",
        modality: "SEM",
        acquired_at: "2025-12-03T17:19:26",
        pixel_size_nm: Some(1.5625),
        databar_rows: None,
    },
    Expect {
        path: "rosettasciio/tiff/JEOL-SightX-TEM-mag-dummy.tif",
        instrument: "JEOL JEM-ARM200F",
        vendor: "jeol",
        modality: "TEM",
        acquired_at: "2019-11-27T16:11:26",
        pixel_size_nm: None,
        databar_rows: None,
    },
    Expect {
        path: "rosettasciio/dm/test_STEM_image.dm3",
        instrument: "FEI Titan",
        vendor: "gatan",
        modality: "STEM",
        acquired_at: "2016-08-08T16:26:37",
        pixel_size_nm: Some(0.248538),
        databar_rows: None,
    },
    Expect {
        path: "rosettasciio/dm/Fei HAADF-UK_location.dm3",
        instrument: "FEI Titan",
        vendor: "gatan",
        modality: "STEM",
        acquired_at: "2016-08-27T20:52:30",
        pixel_size_nm: Some(5.506073),
        databar_rows: None,
    },
    Expect {
        path: "nexuslims/neoarm-gatan_image_dataZeroed.dm4",
        instrument: "TEST_TOOL",
        vendor: "gatan",
        modality: "STEM",
        acquired_at: "2025-01-10T01:10:00",
        pixel_size_nm: Some(0.0192314),
        databar_rows: None,
    },
];

#[tokio::test]
async fn real_archive_every_vendor() {
    let Some(root) = shared("archive") else { return };
    let tmp = tempfile::tempdir().unwrap();
    for db in backends(tmp.path()).await {
        let store = db.open().await;
        let summary = scan(&store, &opts(vec![root.clone()])).await.unwrap();
        assert_eq!(summary.seen, summary.new, "{}: first scan records every file", db.backend);
        let rows = by_path(store.acquisitions().await.unwrap());
        assert_eq!(rows.len() as u64, summary.seen);
        for e in EXPECTED {
            let r = rows.get(e.path).unwrap_or_else(|| panic!("{}: {} not recorded", db.backend, e.path));
            assert_eq!(r.instrument.as_deref(), Some(e.instrument), "{}", e.path);
            assert_eq!(r.vendor, e.vendor, "{}", e.path);
            assert_eq!(r.modality.as_deref(), Some(e.modality), "{}", e.path);
            if e.acquired_at.is_empty() {
                assert_eq!(r.acquired_at_source.as_deref(), Some("file-time"), "{}", e.path);
            } else {
                assert_eq!(r.acquired_at.as_deref(), Some(e.acquired_at), "{}", e.path);
                assert_eq!(r.acquired_at_source.as_deref(), Some("metadata"), "{}", e.path);
            }
            match e.pixel_size_nm {
                Some(p) => {
                    assert!(close(r.pixel_size_nm, p, 1e-4), "{}: pixel size {:?} ≠ {p}", e.path, r.pixel_size_nm)
                }
                None => assert_eq!(r.pixel_size_nm, None, "{}", e.path),
            }
            assert_eq!(r.databar_rows, e.databar_rows, "{}", e.path);
            assert_eq!(r.state, "present", "{}", e.path);
            assert_eq!(r.content_hash.as_ref().map(String::len), Some(64), "{}", e.path);
        }
        // Every Zeiss Auriga frame of the tungsten set: instrument, date, pixel size and user.
        let auriga: Vec<_> = rows.values().filter(|r| r.path.starts_with("zeiss-auriga-tungsten/")).collect();
        assert_eq!(auriga.len(), 41);
        for r in &auriga {
            assert_eq!(r.instrument.as_deref(), Some("Zeiss Auriga"), "{}", r.path);
            assert!(
                r.acquired_at.as_deref().is_some_and(|t| t.starts_with("2015-09-26") || t.starts_with("2018-12-0")),
                "{}",
                r.path
            );
            assert!(r.pixel_size_nm.is_some_and(|p| p > 1.0 && p < 1000.0), "{}", r.path);
            assert!(r.databar_rows.is_some_and(|d| (60..=80).contains(&d)), "{}", r.path);
            assert!(r.user_name.as_deref().is_some_and(|u| u == "HONGBINGYU" || u == "ZAYACHUK"), "{}", r.path);
        }
        // The Hitachi sidecars (UTF-16LE, kanji names) name the user through Directory=.
        assert_eq!(rows["hitachi-tm4000/sample-１_1200倍(x1.2k).tif"].user_name.as_deref(), Some("lixianglan"));
        assert_eq!(rows["nexuslims/quanta_image.tif"].kv, Some(30.0));
        assert_eq!(rows["zeiss-auriga-tungsten/HTHD/3mm62.tif"].magnification, Some(4000.0));
        assert_eq!(rows["nexuslims/quanta_image.tif"].databar_source.as_deref(), Some("metadata"));
        assert_eq!(rows["tescan-zeiss-igic/Tescan_1.TIF"].databar_source.as_deref(), Some("pixels"));

        // The deliberately broken files are recorded with their error; the scan went on.
        for broken in ["nexuslims/test_corrupted.dm3", "nexuslims/quanta_no_beam_scan_or_system_meta.tif"] {
            let r = &rows[broken];
            assert_eq!(r.state, "unreadable", "{broken}");
            assert!(
                r.error.as_deref().is_some_and(|e| e.contains("corrupt") || e.contains("truncated")),
                "{broken}: {:?}",
                r.error
            );
        }
        assert_eq!(summary.unreadable, 2);

        // A second scan touches nothing.
        let again = scan(&store, &opts(vec![root.clone()])).await.unwrap();
        assert_eq!(
            (again.new, again.updated, again.moved, again.gone, again.unchanged),
            (0, 0, 0, 0, summary.seen),
            "{}",
            db.backend
        );
        let after = by_path(store.acquisitions().await.unwrap());
        assert_eq!(after, rows, "{}: rows unchanged by a rescan", db.backend);
        store.close().await;
    }
}

/// Copies real files into a fresh archive under `dir`.
fn small_archive(dir: &Path, names: &[(&str, &str)]) -> Option<PathBuf> {
    let src = shared("archive")?;
    for (from, to) in names {
        let to = dir.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(from), &to).unwrap();
    }
    Some(dir.to_path_buf())
}

/// A facility's exports keep their settings only in the pixels: a real
/// Hitachi frame saved as PNG without its sidecar and a real Zeiss Auriga
/// frame saved as JPEG get kV, magnification, WD, detector, date, time and
/// pixel size from their data bars (the instruments' metadata gave 15 kV,
/// ×600, 7.89 mm, BSE, 2021-06-23 16:41:13, 165.36 nm; and 3 kV, ×4000,
/// 8.6 mm, SE2, 2018-12-04 20:56:52, 27.91 nm).
#[tokio::test]
async fn settings_of_exports_without_metadata_come_from_their_data_bars() {
    let Some(src) = shared("archive") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("exports");
    std::fs::create_dir_all(&root).unwrap();
    let gray = |rel: &str| {
        let g = archive::read::pixels(&std::fs::read(src.join(rel)).unwrap()).unwrap();
        image::GrayImage::from_raw(g.width, g.height, g.pixels).unwrap()
    };
    gray("hitachi-tm4000/sample-１_600倍(x600).tif").save(root.join("hitachi.png")).unwrap();
    let jpeg = std::fs::File::create(root.join("auriga.jpg")).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(jpeg, 90)
        .encode_image(&gray("zeiss-auriga-tungsten/HTHD/3mm62.tif"))
        .unwrap();
    for db in backends(tmp.path()).await {
        let store = db.open().await;
        scan(&store, &opts(vec![root.clone()])).await.unwrap();
        let rows = by_path(store.acquisitions().await.unwrap());
        for (path, kv, mag, wd, detector, date, nm) in [
            ("hitachi.png", 15.0, 600.0, 7.9, "BSE", "2021-06-23T16:41:00", 165.36),
            ("auriga.jpg", 3.0, 4000.0, 8.6, "SE2", "2018-12-04T20:56:52", 27.91),
        ] {
            let a = &rows[path];
            assert_eq!((a.kv, a.magnification, a.wd_mm), (Some(kv), Some(mag), Some(wd)), "{path} {}", db.backend);
            assert_eq!(a.detector.as_deref(), Some(detector));
            assert_eq!((a.acquired_at.as_deref(), a.acquired_at_source.as_deref()), (Some(date), Some("databar")));
            assert!(close(a.pixel_size_nm, nm, 0.01), "{path}: {:?}", a.pixel_size_nm);
        }
        store.close().await;
    }
}

#[tokio::test]
async fn moved_renamed_deleted_and_duplicated_files() {
    let tmp = tempfile::tempdir().unwrap();
    for db in backends(tmp.path()).await {
        let root = tmp.path().join(format!("archive-{}", db.backend));
        let files = [
            ("zeiss-auriga-tungsten/HTHD/3mm62.tif", "anna/2018/tungsten/3mm62.tif"),
            ("zeiss-auriga-tungsten/HTHD/3mm63.tif", "anna/2018/tungsten/3mm63.tif"),
            ("tescan-zeiss-igic/Zeiss_1.tif", "boris/2019/oxides/Zeiss_1.tif"),
        ];
        let Some(root) = small_archive(&root, &files) else { return };
        let store = db.open().await;
        let first = scan(&store, &opts(vec![root.clone()])).await.unwrap();
        assert_eq!(first.new, 3);
        let before = by_path(store.acquisitions().await.unwrap());

        // Move one file to another folder, delete one, copy one.
        std::fs::create_dir_all(root.join("anna/2018/published")).unwrap();
        std::fs::rename(root.join("anna/2018/tungsten/3mm62.tif"), root.join("anna/2018/published/fig2a.tif")).unwrap();
        std::fs::remove_file(root.join("anna/2018/tungsten/3mm63.tif")).unwrap();
        std::fs::copy(root.join("boris/2019/oxides/Zeiss_1.tif"), root.join("boris/2019/oxides/Zeiss_1 - Copy.tif"))
            .unwrap();

        let second = scan(&store, &opts(vec![root.clone()])).await.unwrap();
        assert_eq!((second.moved, second.gone, second.new, second.unchanged), (1, 1, 1, 1), "{}", db.backend);
        let after = by_path(store.acquisitions().await.unwrap());
        assert_eq!(after.len(), 4, "the gone row is kept");
        let moved = &after["anna/2018/published/fig2a.tif"];
        assert_eq!(moved.id, before["anna/2018/tungsten/3mm62.tif"].id, "a moved file keeps its record");
        assert_eq!(moved.state, "present");
        assert_eq!(after["anna/2018/tungsten/3mm63.tif"].state, "gone");
        let copy = &after["boris/2019/oxides/Zeiss_1 - Copy.tif"];
        assert_eq!(copy.content_hash, after["boris/2019/oxides/Zeiss_1.tif"].content_hash);
        assert_ne!(copy.id, after["boris/2019/oxides/Zeiss_1.tif"].id);

        // The deleted file comes back: the gone row is present again.
        std::fs::copy(
            shared("archive").unwrap().join("zeiss-auriga-tungsten/HTHD/3mm63.tif"),
            root.join("anna/2018/tungsten/3mm63.tif"),
        )
        .unwrap();
        let third = scan(&store, &opts(vec![root.clone()])).await.unwrap();
        assert_eq!(third.updated, 1);
        let back = by_path(store.acquisitions().await.unwrap());
        assert_eq!(back["anna/2018/tungsten/3mm63.tif"].state, "present");
        assert_eq!(back["anna/2018/tungsten/3mm63.tif"].id, before["anna/2018/tungsten/3mm63.tif"].id);
        store.close().await;
    }
}

#[tokio::test]
async fn changed_file_is_read_again_and_profile_rules_name_user_and_project() {
    let tmp = tempfile::tempdir().unwrap();
    for db in backends(tmp.path()).await {
        let root = tmp.path().join(format!("archive-{}", db.backend));
        let Some(root) = small_archive(&root, &[("tescan-zeiss-igic/Zeiss_2.tif", "ivanov/2018/catalysts/a.tif")])
        else {
            return;
        };
        let profile = Profile {
            path_rules: vec![PathRule { pattern: r"^(?P<user>[^/]+)/(?P<year>\d{4})/(?P<project>[^/]+)/".into() }],
            ..Default::default()
        };
        let options = ScanOptions { roots: vec![root.clone()], rules: profile.path_rules().unwrap(), progress: false };
        let store = db.open().await;
        scan(&store, &options).await.unwrap();
        let row = store.acquisitions().await.unwrap().remove(0);
        assert_eq!((row.user_name.as_deref(), row.project.as_deref()), (Some("ivanov"), Some("catalysts")));
        assert_eq!(row.operator.as_deref(), Some("SYSTEM"), "the instrument's user name is kept too");

        // Overwrite with another image: same path, new content, same record.
        std::fs::copy(
            shared("archive").unwrap().join("tescan-zeiss-igic/Zeiss_3.tif"),
            root.join("ivanov/2018/catalysts/a.tif"),
        )
        .unwrap();
        let s = scan(&store, &options).await.unwrap();
        assert_eq!(s.updated, 1);
        let new_row = store.acquisitions().await.unwrap().remove(0);
        assert_eq!(new_row.id, row.id);
        assert_ne!(new_row.content_hash, row.content_hash);
        assert_eq!(new_row.acquired_at.as_deref(), Some("2019-01-16T18:32:57"));
        store.close().await;
    }
}

/// No input makes the readers panic: every real archive file, cut short at
/// many points and with bytes overwritten, gives a value or an error.
#[test]
fn truncated_and_damaged_real_files_never_panic() {
    let Some(root) = shared("archive") else { return };
    let mut files = 0;
    let mut errors = 0;
    for entry in walkdir::WalkDir::new(&root).into_iter().filter_map(Result::ok) {
        let ext = entry.path().extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if !["tif", "dm3", "dm4"].contains(&ext.as_str()) {
            continue;
        }
        files += 1;
        let bytes = std::fs::read(entry.path()).unwrap();
        let sidecars = emtrace::archive::Sidecars::default();
        for cut in [0, 3, 8, 20, 200, 2000, bytes.len() / 3, bytes.len() / 2, bytes.len().saturating_sub(1)] {
            if archive::read(&bytes[..cut.min(bytes.len())], &sidecars).is_err() {
                errors += 1;
            }
        }
        let mut damaged = bytes.clone();
        let mut x = 0x9e3779b9u32;
        for _ in 0..64 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let at = x as usize % damaged.len().min(64 * 1024);
            damaged[at] = (x >> 24) as u8;
        }
        let _ = archive::read(&damaged, &sidecars);
    }
    assert!(files > 60, "{files} files");
    assert!(errors >= files * 3, "cut files are reported as errors ({errors} of {})", files * 9);
}

/// DM3 / DM4 pixels decode at the size the tag tree gives, with real contrast
/// (the `dataZeroed` files hold zeros by design).
#[test]
fn dm_pixels_decode() {
    let Some(root) = shared("archive") else { return };
    for (path, (w, h), varied) in [
        ("rosettasciio/dm/test_STEM_image.dm3", (68, 68), true),
        ("rosettasciio/dm/test_diffraction_pattern.dm3", (87, 87), true),
        // 64 pixels of 16-bit data: an array short enough to look like a string.
        ("rosettasciio/dm/Fei HAADF-UK_location.dm3", (16, 4), true),
        ("nexuslims/neoarm-gatan_image_dataZeroed.dm4", (1024, 1024), false),
    ] {
        let bytes = std::fs::read(root.join(path)).unwrap();
        let g = archive::read::pixels(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!((g.width, g.height), (w, h), "{path}");
        assert_eq!(g.pixels.len(), (g.width * g.height) as usize);
        let distinct = g.pixels.iter().collect::<std::collections::HashSet<_>>().len();
        assert_eq!(distinct > 8, varied, "{path}: {distinct} grey levels");
    }
    let broken = std::fs::read(root.join("nexuslims/test_corrupted.dm3")).unwrap();
    assert!(archive::read::pixels(&broken).is_err(), "a corrupted DM file is an error");
}
