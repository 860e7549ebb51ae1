use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, FixedSizeListArray, Int32Array, LargeListArray, ListArray, StringArray,
    StructArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields, Float32Type, Float64Type, Int32Type, Int64Type};
use tensorflow::{DataType as TfType, Graph};

use super::*;
use crate::backends::tensorflow::model::TfModel;
use crate::backends::tensorflow::test_graphs::{conv_graph_def, dense_expected, dense_graph_def, op, placeholder};
use crate::engine::config::EngineConfig;
use crate::ops::decode_images::image_fields;
use crate::ops::preprocess::ImageSpec;

fn load(graph_def: &[u8]) -> TfModel {
    TfModel::from_graph_def(graph_def, &EngineConfig::default()).unwrap()
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> StructArray {
    let fields: Vec<Field> = columns.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), true)).collect();
    StructArray::new(Fields::from(fields), columns.into_iter().map(|(_, a)| a).collect(), None)
}

fn f32_lists(rows: &[Option<Vec<f32>>]) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
        rows.iter().map(|r| r.as_ref().map(|v| v.iter().map(|x| Some(*x)).collect::<Vec<_>>())),
    ))
}

fn spec(json: &str) -> RunSpec {
    RunSpec::from_json(json).unwrap()
}

const DENSE: &str = r#"{"inputs":[{"column":"features","tensor":"x:0"}],"outputs":[{"tensor":"y:0","column":"pred"}]"#;

fn dense_spec(batch_size: Option<usize>) -> RunSpec {
    match batch_size {
        Some(b) => spec(&format!("{DENSE},\"batchSize\":{b}}}")),
        None => spec(&format!("{DENSE}}}")),
    }
}

/// Per row: the output values (float32 or float64 lists, as f64), or the error text.
fn rows_of(out: &StructArray) -> Vec<std::result::Result<Vec<f64>, String>> {
    let pred = out.column(0).as_list::<i32>();
    let err = out.column(out.num_columns() - 1).as_string::<i32>();
    (0..out.len())
        .map(|i| {
            if pred.is_valid(i) {
                assert!(err.is_null(i));
                let v = pred.value(i);
                Ok(match v.data_type() {
                    DataType::Float32 => {
                        v.as_primitive::<Float32Type>().values().iter().map(|x| f64::from(*x)).collect()
                    }
                    DataType::Int32 => v.as_primitive::<Int32Type>().values().iter().map(|x| f64::from(*x)).collect(),
                    DataType::Int64 => v.as_primitive::<Int64Type>().values().iter().map(|x| *x as f64).collect(),
                    _ => v.as_primitive::<Float64Type>().values().to_vec(),
                })
            } else {
                Err(err.value(i).to_string())
            }
        })
        .collect()
}

#[test]
fn good_and_bad_rows_keep_their_positions() {
    let model = load(&dense_graph_def());
    let input = batch(vec![(
        "features",
        f32_lists(&[Some(vec![1.0, 2.0, 3.0]), None, Some(vec![1.0, 2.0, 3.0, 4.0]), Some(vec![-1.0, 0.5, 0.0])]),
    )]);
    let out = run_batch(&model, &input, &dense_spec(None)).unwrap();
    assert_eq!(out.column_names(), vec!["pred", "error"]);
    // The tensor's own element type: Spark's array<float>.
    assert_eq!(out.column(0).data_type(), &DataType::List(Arc::new(Field::new("item", DataType::Float32, false))));
    let rows = rows_of(&out);
    assert_eq!(rows[0], Ok(dense_expected(&[1.0, 2.0, 3.0])));
    assert_eq!(rows[1], Err("column 'features' is null".to_string()));
    assert_eq!(
        rows[2],
        Err("column 'features': expected 3 values per row (tensor 'x:0' has shape (?, 3)), got 4".to_string())
    );
    assert_eq!(rows[3], Ok(dense_expected(&[-1.0, 0.5, 0.0])));
}

/// 50 rows of varied values, every 9th null and every 11th too long.
fn many_rows() -> Vec<Option<Vec<f32>>> {
    let mut seed = 7u32;
    (0..50)
        .map(|i| {
            let mut v: Vec<f32> = (0..3)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    ((seed >> 16) % 2000) as f32 / 100.0 - 10.0
                })
                .collect();
            if i % 11 == 5 {
                v.push(1.0);
            }
            (i % 9 != 4).then_some(v)
        })
        .collect()
}

#[test]
fn batch_size_and_partitioning_do_not_change_results() {
    let model = load(&dense_graph_def());
    let data = many_rows();
    let input = batch(vec![("features", f32_lists(&data))]);
    let reference = rows_of(&run_batch(&model, &input, &dense_spec(None)).unwrap());
    // Rows 4, 13, 22, 31, 40, 49 are null; 5, 16, 27, 38 too long.
    assert_eq!(reference.iter().filter(|r| r.is_err()).count(), 10);
    for (i, r) in reference.iter().enumerate() {
        if let (Ok(v), Some(x)) = (r, &data[i]) {
            let expected = dense_expected(x);
            assert!(v.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-5), "row {i}: {v:?} vs {expected:?}");
        }
    }
    for b in [1, 7, 64] {
        assert_eq!(rows_of(&run_batch(&model, &input, &dense_spec(Some(b))).unwrap()), reference, "batchSize {b}");
    }
    // Uneven partitions of the same rows, each its own batch.
    let mut joined = Vec::new();
    for (start, end) in [(0, 13), (13, 14), (14, 50)] {
        let part = batch(vec![("features", f32_lists(&data[start..end]))]);
        joined.extend(rows_of(&run_batch(&model, &part, &dense_spec(Some(7))).unwrap()));
    }
    assert_eq!(joined, reference);
}

#[test]
fn list_types_are_cast_to_the_tensor_type() {
    let model = load(&dense_graph_def());
    let x = [1.0f64, 2.0, 3.0];
    let doubles: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>([Some(x.map(Some))]));
    let large: ArrayRef =
        Arc::new(LargeListArray::from_iter_primitive::<Int32Type, _, _>([Some([Some(1), Some(2), Some(3)])]));
    let fixed: ArrayRef = Arc::new(FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
        [Some([Some(1.0f32), Some(2.0), Some(3.0)])],
        3,
    ));
    for col in [doubles, large, fixed] {
        let out = run_batch(&model, &batch(vec![("features", col.clone())]), &dense_spec(None)).unwrap();
        assert_eq!(rows_of(&out)[0], Ok(dense_expected(&[1.0, 2.0, 3.0])), "{}", col.data_type());
    }
    // int64 values into an int32 tensor: too large is an error for that row only.
    let ints: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>([
        Some(vec![Some(1), Some(-2)]),
        Some(vec![Some(1 << 40), Some(0)]),
    ]));
    let s = spec(r#"{"inputs":[{"column":"i","tensor":"xi"}],"outputs":[{"tensor":"yi","column":"o"}]}"#);
    let rows = rows_of(&run_batch(&model, &batch(vec![("i", ints)]), &s).unwrap());
    assert_eq!(rows[0], Ok(vec![2.0, -4.0]));
    assert!(rows[1].as_ref().unwrap_err().contains("does not fit int32"), "{:?}", rows[1]);
}

#[test]
fn rows_reshape_to_the_tensor_and_unknown_rank_takes_any_length() {
    let model = load(&conv_graph_def());
    let images: Vec<Vec<f32>> = (0..3).map(|k| (0..16).map(|i| (i * (k + 1)) as f32 / 8.0).collect()).collect();
    let col: ArrayRef = Arc::new(FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
        images.iter().map(|v| Some(v.iter().map(|x| Some(*x)).collect::<Vec<_>>())),
        16,
    ));
    let s = spec(r#"{"inputs":[{"column":"img","tensor":"x"}],"outputs":[{"tensor":"y","column":"o"}],"batchSize":2}"#);
    let rows = rows_of(&run_batch(&model, &batch(vec![("img", col)]), &s).unwrap());
    for (v, row) in images.iter().zip(&rows) {
        let one = TensorValue::f32(&[1, 4, 4, 1], v.clone()).unwrap();
        let expected = model.run_values(&[("x", one)], &["y"]).unwrap()[0].to_f64_vec();
        assert_eq!(row.as_ref().unwrap(), &expected);
    }
    // A placeholder of unknown rank takes each row as a 1-D feature, whatever its length.
    let model = load(&dense_graph_def());
    let s = spec(
        r#"{"inputs":[{"column":"v","tensor":"any"}],"outputs":[{"tensor":"neg_any","column":"o"}],"batchSize":3}"#,
    );
    let col = f32_lists(&[Some(vec![1.0, 2.0]), Some(vec![3.0]), Some(vec![4.0, 5.0]), Some(vec![])]);
    let rows = rows_of(&run_batch(&model, &batch(vec![("v", col)]), &s).unwrap());
    assert_eq!(rows, vec![Ok(vec![-1.0, -2.0]), Ok(vec![-3.0]), Ok(vec![-4.0, -5.0]), Ok(vec![])]);
}

#[test]
fn fixed_batch_dimension_is_padded() {
    crate::backends::tensorflow::test_graphs::ensure_loaded();
    let mut g = Graph::new();
    let x = placeholder(&mut g, "x", TfType::Float, Some(vec![Some(2), Some(3)]));
    op(&mut g, "Neg", "y", &[&x]);
    let model = load(&g.graph_def().unwrap());
    let data: Vec<Option<Vec<f32>>> = (0..5).map(|i| Some(vec![i as f32, 1.0, 2.0])).collect();
    let out = run_batch(&model, &batch(vec![("features", f32_lists(&data))]), &dense_spec(Some(64))).unwrap();
    let rows = rows_of(&out);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r, &Ok(vec![-(i as f64), -1.0, -2.0]));
    }
}

#[test]
fn a_row_tensorflow_rejects_fails_alone() {
    crate::backends::tensorflow::test_graphs::ensure_loaded();
    let mut g = Graph::new();
    let x = placeholder(&mut g, "x", TfType::Float, Some(vec![None, Some(3)]));
    let mut d = g.new_operation("CheckNumerics", "y").unwrap();
    d.add_input(tensorflow::Output { operation: x, index: 0 });
    d.set_attr_string("message", "bad input").unwrap();
    d.finish().unwrap();
    let model = load(&g.graph_def().unwrap());
    let data = vec![Some(vec![1.0, 2.0, 3.0]), Some(vec![f32::NAN, 0.0, 0.0]), Some(vec![4.0, 5.0, 6.0])];
    let rows = rows_of(&run_batch(&model, &batch(vec![("features", f32_lists(&data))]), &dense_spec(None)).unwrap());
    assert_eq!(rows[0], Ok(vec![1.0, 2.0, 3.0]));
    assert!(rows[1].as_ref().unwrap_err().contains("bad input"), "{:?}", rows[1]);
    assert_eq!(rows[2], Ok(vec![4.0, 5.0, 6.0]));
}

#[test]
fn image_columns_are_preprocessed() {
    let model = load(&dense_graph_def());
    // One 1x2 BGR image: pixels (b,g,r) = (1,2,3) and (4,5,6).
    let children: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["a", "b"])),
        Arc::new(Int32Array::from(vec![1, 1])),
        Arc::new(Int32Array::from(vec![2, 2])),
        Arc::new(Int32Array::from(vec![3, 3])),
        Arc::new(Int32Array::from(vec![16, 16])),
        Arc::new(BinaryArray::from(vec![&[1u8, 2, 3, 4, 5, 6][..], &[][..]])),
    ];
    // As the JVM sends it: Spark's BinaryType is Arrow Binary.
    let fields: Vec<Field> = image_fields()
        .iter()
        .map(|f| if f.name() == "data" { Field::new("data", DataType::Binary, false) } else { f.as_ref().clone() })
        .collect();
    let images =
        StructArray::try_new(Fields::from(fields), children, Some(NullBuffer::from(vec![true, false]))).unwrap();
    let s = spec(
        r#"{"inputs":[{"column":"image","tensor":"any","image":{"kind":"struct","channelOrder":"RGB","scale":0.5}}],
            "outputs":[{"tensor":"neg_any","column":"o"}]}"#,
    );
    let rows = rows_of(&run_batch(&model, &batch(vec![("image", Arc::new(images))]), &s).unwrap());
    assert_eq!(rows[0], Ok(vec![-1.5, -1.0, -0.5, -3.0, -2.5, -2.0]));
    assert_eq!(rows[1], Err("column 'image' has a null image".to_string()));
    // The same spec on a column of numbers is explained.
    let err = run_batch(&model, &batch(vec![("image", f32_lists(&[Some(vec![1.0])]))]), &s).unwrap_err();
    assert!(err.to_string().contains("image kind 'struct' needs a Spark image struct column"), "{err}");
}

#[test]
fn misconfigured_runs_fail_with_reasons() {
    let model = load(&dense_graph_def());
    let input = batch(vec![("features", f32_lists(&[Some(vec![1.0, 2.0, 3.0])]))]);
    let err = RunSpec::from_json(r#"{"inputs":[],"outputs":[],"batchsize":3}"#).unwrap_err();
    assert!(err.to_string().contains("batchsize"), "{err}");
    let err =
        RunSpec::from_json(r#"{"inputs":[{"column":"a","tensor":"x"}],"outputs":[{"tensor":"y","column":"error"}]}"#)
            .unwrap_err();
    assert!(err.to_string().contains("error column"), "{err}");
    let bad_tensor =
        spec(r#"{"inputs":[{"column":"features","tensor":"inptu"}],"outputs":[{"tensor":"y","column":"p"}]}"#);
    let err = run_batch(&model, &input, &bad_tensor).unwrap_err().to_string();
    assert!(err.contains("'inptu'"), "{err}");
    let bad_column = spec(r#"{"inputs":[{"column":"feature","tensor":"x"}],"outputs":[{"tensor":"y","column":"p"}]}"#);
    let err = run_batch(&model, &input, &bad_column).unwrap_err().to_string();
    assert!(err.contains("no column 'feature' (it has: features)"), "{err}");
    let strings = batch(vec![("features", Arc::new(StringArray::from(vec!["1,2,3"])) as ArrayRef)]);
    let err = run_batch(&model, &strings, &dense_spec(None)).unwrap_err().to_string();
    assert!(err.contains("input column 'features' for tensor 'x:0': the column must be an array of numbers"), "{err}");
    let no_batch_dim =
        spec(r#"{"inputs":[{"column":"features","tensor":"x"}],"outputs":[{"tensor":"total","column":"p"}]}"#);
    let err = run_batch(&model, &input, &no_batch_dim).unwrap_err().to_string();
    assert!(err.contains("first dimension must be the batch"), "{err}");
    // An empty batch needs no run.
    let empty = batch(vec![("features", f32_lists(&[]))]);
    assert_eq!(run_batch(&model, &empty, &dense_spec(None)).unwrap().len(), 0);
}

/// Spark image structs (BGR) of the given sizes, pixel values from `seed`;
/// `None` is a null image.
fn image_structs(sizes: &[Option<(i32, i32)>], seed: u8) -> (StructArray, Vec<Option<Vec<u8>>>) {
    let pixels: Vec<Option<Vec<u8>>> = sizes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.map(|(h, w)| (0..h * w * 3).map(|j| (j as u8).wrapping_mul(7).wrapping_add(seed + i as u8)).collect())
        })
        .collect();
    let dims = |f: fn(&(i32, i32)) -> i32| {
        Arc::new(Int32Array::from(sizes.iter().map(|s| s.as_ref().map_or(1, f)).collect::<Vec<_>>()))
    };
    let data: Vec<&[u8]> = pixels.iter().map(|p| p.as_deref().unwrap_or(&[])).collect();
    let children: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["x"; sizes.len()])),
        dims(|s| s.0),
        dims(|s| s.1),
        Arc::new(Int32Array::from(vec![3; sizes.len()])),
        Arc::new(Int32Array::from(vec![16; sizes.len()])),
        Arc::new(BinaryArray::from(data)),
    ];
    let fields: Vec<Field> = image_fields()
        .iter()
        .map(|f| if f.name() == "data" { Field::new("data", DataType::Binary, false) } else { f.as_ref().clone() })
        .collect();
    let valid = NullBuffer::from(sizes.iter().map(Option::is_some).collect::<Vec<_>>());
    (StructArray::try_new(Fields::from(fields), children, Some(valid)).unwrap(), pixels)
}

#[test]
fn images_with_a_target_size_go_straight_into_the_batch_tensor() {
    crate::backends::tensorflow::test_graphs::ensure_loaded();
    let mut g = Graph::new();
    let x = placeholder(&mut g, "x", TfType::Float, Some(vec![None, Some(2), Some(3), Some(3)]));
    op(&mut g, "Neg", "y", &[&x]);
    let model = load(&g.graph_def().unwrap());
    crate::backends::tensorflow::test_graphs::ensure_loaded();
    let mut g = Graph::new();
    let x = placeholder(&mut g, "x", TfType::Float, Some(vec![Some(4), Some(2), Some(3), Some(3)]));
    op(&mut g, "Neg", "y", &[&x]);
    let fixed = load(&g.graph_def().unwrap());
    let sizes = [Some((4, 6)), Some((2, 3)), None, Some((9, 5)), Some((1, 1)), Some((8, 12)), Some((3, 3))];
    let (images, pixels) = image_structs(&sizes, 3);
    let image =
        r#"{"kind":"struct","height":2,"width":3,"channelOrder":"RGB","scale":0.5,"mean":[1,2,3],"std":[2,1,0.5]}"#;
    // Expected: each image through the per-image preprocessing, negated.
    let img_spec: ImageSpec = serde_json::from_str(image).unwrap();
    let expected: Vec<std::result::Result<Vec<f64>, String>> = sizes
        .iter()
        .zip(&pixels)
        .map(|(s, p)| match (s, p) {
            (Some((h, w)), Some(p)) => {
                let src = crate::ops::preprocess::PixelsRef::from_struct(*h, *w, 3, 16, p).unwrap();
                let mut out = Vec::new();
                Preprocessor::default().append(&src, &img_spec, &mut out).unwrap();
                Ok(out.iter().map(|v| -f64::from(*v)).collect())
            }
            _ => Err("column 'image' has a null image".to_string()),
        })
        .collect();
    let input = batch(vec![("image", Arc::new(images) as ArrayRef)]);
    for (m, batch_size) in [(&model, 1), (&model, 2), (&model, 64), (&fixed, 3), (&fixed, 64)] {
        let s = spec(&format!(
            r#"{{"inputs":[{{"column":"image","tensor":"x","image":{image}}}],"outputs":[{{"tensor":"y","column":"o"}}],"batchSize":{batch_size}}}"#
        ));
        assert_eq!(rows_of(&run_batch(m, &input, &s).unwrap()), expected, "batch size {batch_size}");
    }
}

#[test]
fn a_direct_chunk_tensorflow_rejects_is_rerun_row_by_row() {
    crate::backends::tensorflow::test_graphs::ensure_loaded();
    let mut g = Graph::new();
    let x = placeholder(&mut g, "x", TfType::Float, Some(vec![None, Some(1), Some(1), Some(3)]));
    let mut d = g.new_operation("CheckNumerics", "y").unwrap();
    d.add_input(tensorflow::Output { operation: x, index: 0 });
    d.set_attr_string("message", "not finite").unwrap();
    d.finish().unwrap();
    let model = load(&g.graph_def().unwrap());
    // 1x1 images: pixel 0 stays 0 under a huge scale, any other value overflows to inf.
    let children: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec!["a", "b", "c"])),
        Arc::new(Int32Array::from(vec![1, 1, 1])),
        Arc::new(Int32Array::from(vec![1, 1, 1])),
        Arc::new(Int32Array::from(vec![3, 3, 3])),
        Arc::new(Int32Array::from(vec![16, 16, 16])),
        Arc::new(BinaryArray::from(vec![&[0u8, 0, 0][..], &[9u8, 9, 9][..], &[0u8, 0, 0][..]])),
    ];
    let fields: Vec<Field> = image_fields()
        .iter()
        .map(|f| if f.name() == "data" { Field::new("data", DataType::Binary, false) } else { f.as_ref().clone() })
        .collect();
    let images = StructArray::try_new(Fields::from(fields), children, None).unwrap();
    let s = spec(
        r#"{"inputs":[{"column":"image","tensor":"x","image":{"kind":"struct","height":1,"width":1,"scale":1e38}}],
            "outputs":[{"tensor":"y","column":"o"}],"batchSize":8}"#,
    );
    let rows = rows_of(&run_batch(&model, &batch(vec![("image", Arc::new(images) as ArrayRef)]), &s).unwrap());
    assert_eq!(rows[0], Ok(vec![0.0, 0.0, 0.0]));
    assert!(rows[1].as_ref().unwrap_err().contains("not finite"), "{:?}", rows[1]);
    assert_eq!(rows[2], Ok(vec![0.0, 0.0, 0.0]));
}

/// A graph whose `y` = CheckNumerics(x): fails for a row holding NaN.
fn check_numerics_model() -> TfModel {
    crate::backends::tensorflow::test_graphs::ensure_loaded();
    let mut g = Graph::new();
    let x = placeholder(&mut g, "x", TfType::Float, Some(vec![None, Some(3)]));
    let mut d = g.new_operation("CheckNumerics", "y").unwrap();
    d.add_input(tensorflow::Output { operation: x, index: 0 });
    d.set_attr_string("message", "bad input").unwrap();
    d.finish().unwrap();
    load(&g.graph_def().unwrap())
}

#[test]
fn a_model_that_fails_on_every_row_fails_the_batch() {
    let model = check_numerics_model();
    let nan = Some(vec![f32::NAN, 0.0, 0.0]);
    let input = batch(vec![("features", f32_lists(&[nan.clone(), None, nan.clone(), nan]))]);
    let err = run_batch(&model, &input, &dense_spec(None)).unwrap_err();
    match &err {
        SparkdlError::ModelRun { about_rows: false, message } => {
            assert!(message.contains("failed on each of the 3 rows") && message.contains("bad input"), "{message}")
        }
        other => panic!("expected a batch failure, got {other:?}"),
    }
    // One row alone that TensorFlow rejects stays a row error.
    let one = batch(vec![("features", f32_lists(&[Some(vec![f32::NAN, 0.0, 0.0]), None]))]);
    let rows = rows_of(&run_batch(&model, &one, &dense_spec(None)).unwrap());
    assert!(rows[0].as_ref().unwrap_err().contains("bad input"));
}

#[test]
fn a_failure_that_is_not_about_the_rows_fails_the_batch_without_retrying_rows() {
    // TF1 variables that were never initialised: FAILED_PRECONDITION, a fault
    // of the model, not of any row.
    let model = load(&crate::backends::tensorflow::test_graphs::variable_graph_def());
    let input = batch(vec![("features", f32_lists(&[Some(vec![1.0, 2.0, 3.0]), Some(vec![4.0, 5.0, 6.0])]))]);
    let err = run_batch(&model, &input, &dense_spec(None)).unwrap_err();
    assert!(matches!(err, SparkdlError::ModelRun { about_rows: false, .. }), "{err:?}");
    assert!(err.to_string().contains("uninitialized"), "{err}");
}

#[test]
fn outputs_take_the_layout_spark_reads() {
    let model = load(&dense_graph_def());
    let input = batch(vec![("features", f32_lists(&[Some(vec![1.0, 2.0, 3.0]), None, Some(vec![-1.0, 0.5, 0.0])]))]);
    let with = |format: &str| {
        let s = spec(&format!(
            r#"{{"inputs":[{{"column":"features","tensor":"x:0"}}],"outputs":[{{"tensor":"y:0","column":"o","format":{format}}}]}}"#
        ));
        run_batch(&model, &input, &s).unwrap()
    };
    let (e0, e2) = (dense_expected(&[1.0, 2.0, 3.0]), dense_expected(&[-1.0, 0.5, 0.0]));

    // Spark ML's VectorUDT struct: type 1 (dense), size/indices null, values as doubles.
    let out = with(r#"{"kind":"vector"}"#);
    let v = out.column(0).as_struct();
    assert_eq!(v.column_names(), vec!["type", "size", "indices", "values"]);
    assert!(v.is_valid(0) && v.is_null(1) && v.is_valid(2));
    assert_eq!(v.column(0).as_primitive::<arrow::datatypes::Int8Type>().value(0), 1);
    assert!(v.column(1).is_null(0) && v.column(2).is_null(0));
    let values = v.column(3).as_list::<i32>();
    assert_eq!(values.value(0).as_primitive::<Float64Type>().values().to_vec(), e0);
    assert_eq!(values.value(2).as_primitive::<Float64Type>().values().to_vec(), e2);

    // Image data: float32 little-endian bytes, the first three channels reversed.
    let out = with(r#"{"kind":"imageData","channels":2,"swapRgb":false}"#);
    let data = out.column(0).as_binary::<i64>();
    let floats: Vec<f32> =
        data.value(0).chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(floats.iter().map(|x| f64::from(*x)).collect::<Vec<_>>(), e0);
    assert!(data.is_null(1));

    // Top k: indices and values, largest first.
    let out = with(r#"{"kind":"topK","k":1}"#);
    let top = out.column(0).as_list::<i32>();
    let first = top.value(0);
    let entries = first.as_struct();
    assert_eq!(entries.len(), 1);
    let best = if e0[0] >= e0[1] { 0 } else { 1 };
    assert_eq!(entries.column(0).as_primitive::<Int32Type>().value(0), best);
    assert_eq!(entries.column(1).as_primitive::<Float64Type>().value(0), e0[best as usize]);
    assert!(top.is_null(1));

    // With labels: class id and name instead of the index.
    let out = with(r#"{"kind":"topK","k":2,"labels":[["c0","zero"],["c1","one"]]}"#);
    let first = out.column(0).as_list::<i32>().value(2);
    let entries = first.as_struct();
    assert_eq!(entries.column_names(), vec!["class", "description", "probability"]);
    let best = if e2[0] >= e2[1] { 0 } else { 1 };
    assert_eq!(entries.column(0).as_string::<i32>().value(0), ["c0", "c1"][best]);
    assert_eq!(entries.column(1).as_string::<i32>().value(1), ["one", "zero"][best]);
    let s = spec(
        r#"{"inputs":[{"column":"features","tensor":"x:0"}],"outputs":[{"tensor":"y:0","column":"o","format":{"kind":"topK","k":1,"labels":[["a","b"]]}}]}"#,
    );
    let err = run_batch(&model, &input, &s).unwrap_err().to_string();
    assert!(err.contains("output column 'o': top k: the label set has 1 classes but the output has 2"), "{err}");

    // Integer outputs keep their type.
    let ints: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>([Some([Some(1), Some(2)])]));
    let s = spec(r#"{"inputs":[{"column":"xi","tensor":"xi"}],"outputs":[{"tensor":"yi","column":"o"}]}"#);
    let out = run_batch(&model, &batch(vec![("xi", ints)]), &s).unwrap();
    assert_eq!(out.column(0).as_list::<i32>().value(0).as_primitive::<Int32Type>().values().to_vec(), vec![2, 4]);
}

#[test]
fn rgb_image_outputs_go_back_to_bgr() {
    let model = load(&dense_graph_def());
    let input = batch(vec![("features", f32_lists(&[Some(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])]))]);
    let s = spec(
        r#"{"inputs":[{"column":"features","tensor":"any"}],
            "outputs":[{"tensor":"neg_any","column":"o","format":{"kind":"imageData","channels":3,"swapRgb":true}}]}"#,
    );
    let out = run_batch(&model, &input, &s).unwrap();
    let bytes = out.column(0).as_binary::<i64>().value(0).to_vec();
    let floats: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(floats, vec![-3.0, -2.0, -1.0, -6.0, -5.0, -4.0]);
}

#[test]
fn ml_vectors_feed_like_arrays() {
    use arrow::array::{Float64Builder, Int32Builder, Int8Array, ListBuilder};
    let model = load(&dense_graph_def());
    // Row 0 dense [1,2,3]; row 1 sparse (3, [2], [5.0]); row 2 null.
    let mut indices =
        ListBuilder::new(Int32Builder::new()).with_field(Arc::new(Field::new("element", DataType::Int32, false)));
    indices.append(false);
    indices.values().append_value(2);
    indices.append(true);
    indices.append(false);
    let mut values =
        ListBuilder::new(Float64Builder::new()).with_field(Arc::new(Field::new("element", DataType::Float64, false)));
    values.values().append_slice(&[1.0, 2.0, 3.0]);
    values.append(true);
    values.values().append_slice(&[5.0]);
    values.append(true);
    values.append(false);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from(vec![1, 0, 1])),
        Arc::new(Int32Array::from(vec![None, Some(3), None])),
        Arc::new(indices.finish()),
        Arc::new(values.finish()),
    ];
    let fields: Vec<Field> = ["type", "size", "indices", "values"]
        .iter()
        .zip(&columns)
        .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
        .collect();
    let vectors =
        StructArray::try_new(Fields::from(fields), columns, Some(NullBuffer::from(vec![true, true, false]))).unwrap();
    let rows = rows_of(
        &run_batch(&model, &batch(vec![("features", Arc::new(vectors) as ArrayRef)]), &dense_spec(None)).unwrap(),
    );
    assert_eq!(rows[0], Ok(dense_expected(&[1.0, 2.0, 3.0])));
    assert_eq!(rows[1], Ok(dense_expected(&[0.0, 0.0, 5.0])));
    assert_eq!(rows[2], Err("column 'features' is null".to_string()));
}
