//! The typed fast path: the common alert shapes (GuardDuty findings, Okta System Log events and
//! event hook deliveries, the Sentinel playbook incident trigger and SecurityAlert rows, Graph
//! security alerts v2) deserialized straight from the input text into borrowing structs that
//! read only the fields the parsers use and skip the rest unparsed, instead of first building a
//! `serde_json::Value` of the whole payload.
//!
//! It must give exactly what the `Value` path gives, so it *declines* (returns `None`, and the
//! dispatcher falls back to the `Value` path) whenever it is not sure:
//!
//! - **Keys.** The `Value` path looks keys up exactly, falling back to a case-insensitive match
//!   ([`crate::util::get`]). A view matches its keys exactly; a key that differs from one of them
//!   only in case makes it decline. A key that appears twice keeps its last value, as
//!   `serde_json::Map` does.
//! - **Types.** Every field is read as a [`Lit`] (any JSON value, containers skipped), a nested
//!   view (an object read field by field; any other value reads as an empty view, as `get` on a
//!   non-object finds nothing), a [`Seq`] or a [`Bag`], so an unusual type gives the same answer
//!   as on the `Value` path rather than an error.
//! - **Recognition.** [`parse`] only takes a record when every source the dispatcher asks first
//!   would decline it (telemetry before everything; Sentinel before Graph; Sentinel and Graph
//!   before GuardDuty; Security Hub before Okta), checking the keys those sources look at, conservatively.
//! - **The rest.** Anything else the `Value` path does with the whole payload (a stable hash of
//!   an event without an id, a template placeholder search) makes the fast path decline.
//!
//! The field → entity mapping is shared: each parser reads its fields into a small struct of
//! borrowed parts, from a `Value` or from a view, and one function turns the parts into an alert.
//! `tests/fast_path.rs` runs both paths over the corpus, the bench file, the examples and
//! mutated variants and asserts the same outcome.

use crate::util::Scalar;
use cordon_core::{Alert, ParseError};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

/// The error a view raises to make the whole fast path decline.
pub(crate) fn decline<E: de::Error>(why: &str) -> E {
    E::custom(format_args!("fast path declined: {why}"))
}

// ---------------------------------------------------------------------------------------------
// Field types

/// What the `Sentinel` entities-column check needs to know of any value: whether it is an object
/// with both `$id` and `Type` keys (an ASC entity).
pub(crate) trait Node {
    fn asc_entity(&self) -> bool;
}

impl<T: Node> Node for Box<T> {
    fn asc_entity(&self) -> bool {
        (**self).asc_entity()
    }
}

/// An object key, borrowed from the input unless it holds escapes.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Skips an object's members, noting whether it has the keys of an ASC entity.
fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<bool, A::Error> {
    let (mut id, mut ty) = (false, false);
    while let Some(Key(k)) = map.next_key()? {
        id |= k == "$id";
        ty |= k == "Type";
        map.next_value::<IgnoredAny>()?;
    }
    Ok(id && ty)
}

fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Any JSON value: scalars kept (strings borrowed unless escaped), containers skipped.
#[derive(Debug)]
pub(crate) enum Lit<'de> {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(Cow<'de, str>),
    Array,
    Object { asc_entity: bool },
}

impl Lit<'_> {
    pub(crate) fn scalar(&self) -> Scalar<'_> {
        match self {
            Lit::Null => Scalar::Null,
            Lit::Bool(b) => Scalar::Bool(*b),
            Lit::Num(n) => Scalar::Num(n),
            Lit::Str(s) => Scalar::Str(s),
            Lit::Array => Scalar::Array,
            Lit::Object { .. } => Scalar::Object,
        }
    }
}

impl Node for Lit<'_> {
    fn asc_entity(&self) -> bool {
        matches!(self, Lit::Object { asc_entity: true })
    }
}

/// A field's value as a [`Scalar`] (the fast path's `get(v, key)`).
pub(crate) fn sc<'a>(field: &'a Option<Lit<'_>>) -> Option<Scalar<'a>> {
    field.as_ref().map(Lit::scalar)
}

/// A field as a non-empty string (the fast path's `gs(v, key)`).
pub(crate) fn text<'a>(field: &'a Option<Lit<'_>>) -> Option<&'a str> {
    sc(field).and_then(Scalar::text)
}

/// How [`AnyVisitor`] reads a value: scalars as a [`Lit`], containers as the type decides.
trait ReadAny<'de>: Sized {
    fn scalar(l: Lit<'de>) -> Self;
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error>;
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

/// Reads any JSON value into a [`ReadAny`] type. Its methods (and [`Lit`]'s) are `#[inline]`:
/// every scalar of a GuardDuty finding or Okta event is read through them, and without the hint
/// those fast paths were measurably slower than with a visitor of `Lit`'s own.
struct AnyVisitor<T>(PhantomData<T>);

impl<'de, T: ReadAny<'de>> Visitor<'de> for AnyVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    #[inline]
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::scalar(Lit::Null))
    }
    #[inline]
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<T, E> {
        Ok(T::scalar(Lit::Bool(b)))
    }
    #[inline]
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        Ok(T::scalar(Lit::Num(n.into())))
    }
    #[inline]
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
        Ok(T::scalar(Lit::Num(n.into())))
    }
    #[inline]
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<T, E> {
        serde_json::Number::from_f64(n)
            .map(|n| T::scalar(Lit::Num(n)))
            .ok_or_else(|| decline("non-finite number"))
    }
    #[inline]
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<T, E> {
        Ok(T::scalar(Lit::Str(Cow::Borrowed(s))))
    }
    #[inline]
    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        Ok(T::scalar(Lit::Str(Cow::Owned(s.to_string()))))
    }
    #[inline]
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::seq(seq)
    }
    #[inline]
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::map(map)
    }
}

impl<'de> ReadAny<'de> for Lit<'de> {
    #[inline]
    fn scalar(l: Lit<'de>) -> Self {
        l
    }
    #[inline]
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        skip_seq(seq).map(|()| Lit::Array)
    }
    #[inline]
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        skip_map(map).map(|asc_entity| Lit::Object { asc_entity })
    }
}

impl<'de> Deserialize<'de> for Lit<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor(PhantomData))
    }
}

/// A field only checked for presence (whatever its value, `null` included).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Present {
    asc_entity: bool,
}

impl Node for Present {
    fn asc_entity(&self) -> bool {
        self.asc_entity
    }
}

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Lit::deserialize(d).map(|l| Present {
            asc_entity: l.asc_entity(),
        })
    }
}

/// A key only other shapes have: reading it makes the fast path decline at once, without
/// reading the rest of the payload.
#[derive(Debug)]
pub(crate) enum Decline {}

impl Node for Decline {
    fn asc_entity(&self) -> bool {
        match *self {}
    }
}

impl<'de> Deserialize<'de> for Decline {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(decline("a key of another source's shape"))
    }
}

/// Visitor methods for the scalars (but strings) a container type does not hold: they read as "not this",
/// skipping the value, as `get`/`as_array` on the wrong type find nothing.
macro_rules! other_values {
    ($other:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other(false))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other(false))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other(false))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other(false))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other(false))
        }
    };
}

/// An array of `T`, or (`Other`) any other value, skipped.
#[derive(Debug)]
pub(crate) enum Seq<T> {
    Items(Vec<T>),
    Other { asc_entity: bool },
}

impl<T> Seq<T> {
    /// The items, when the value is an array (`Value::as_array`).
    pub(crate) fn items(&self) -> Option<&[T]> {
        match self {
            Seq::Items(v) => Some(v),
            Seq::Other { .. } => None,
        }
    }
}

impl<T> Node for Seq<T> {
    fn asc_entity(&self) -> bool {
        matches!(self, Seq::Other { asc_entity: true })
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Seq<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Seq<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(|asc_entity| Seq::Other { asc_entity });
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Seq<T>, E> {
                Ok(Seq::Other { asc_entity: false })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Seq<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(x) = seq.next_element()? {
                    items.push(x);
                }
                Ok(Seq::Items(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Seq<T>, A::Error> {
                skip_map(map).map(|asc_entity| Seq::Other { asc_entity })
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A string list field as [`crate::util::string_list`] reads it: the string items of an array,
/// or a JSON-array / comma-separated string split; anything else is empty. Also notes whether
/// the value is an ASC entity (for a list read at the top level).
#[derive(Debug, Default)]
pub(crate) struct Strings(pub(crate) Vec<String>, bool);

impl Node for Strings {
    fn asc_entity(&self) -> bool {
        self.1
    }
}

impl<'de> Deserialize<'de> for Strings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(|_| Strings::default());
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Strings, E> {
                Ok(Strings(crate::util::split_list(s), false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strings, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<Lit>()? {
                    out.extend(x.scalar().text().map(str::to_string));
                }
                Ok(Strings(out, false))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Strings, A::Error> {
                skip_map(map).map(|asc_entity| Strings(Vec::new(), asc_entity))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object's scalar members, for objects whose keys vary in case or are many (Sentinel entity
/// properties), looked up exactly as [`crate::util::get`] does on a `Value`.
#[derive(Debug, Default)]
pub(crate) struct Bag<'de>(Vec<(Cow<'de, str>, Lit<'de>)>);

impl crate::util::Props for Bag<'_> {
    /// The exact key (its last occurrence, as `serde_json::Map` keeps), else the first key in
    /// `Map` order (byte order) that matches case-insensitively.
    fn prop(&self, key: &str) -> Option<Scalar<'_>> {
        let mut exact = None;
        let mut ci: Option<&(Cow<str>, Lit)> = None;
        for kv in &self.0 {
            if kv.0 == key {
                exact = Some(&kv.1);
            } else if exact.is_none()
                && kv.0.eq_ignore_ascii_case(key)
                && ci.is_none_or(|c| kv.0 <= c.0)
            {
                ci = Some(kv);
            }
        }
        exact.or(ci.map(|kv| &kv.1)).map(Lit::scalar)
    }
}

impl Node for Bag<'_> {
    fn asc_entity(&self) -> bool {
        false // only ever read below the top level
    }
}

impl<'de> Deserialize<'de> for Bag<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bag<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            other_values!(|_| Bag::default());
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Bag<'de>, E> {
                Ok(Bag::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Bag<'de>, A::Error> {
                skip_seq(seq).map(|()| Bag::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bag<'de>, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(Key(k)) = map.next_key()? {
                    out.push((k, map.next_value()?));
                }
                Ok(Bag(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Any JSON value, kept whole: an object's members in `serde_json::Map` order (by key; a
/// repeated key keeps its last value), for a graph walked as on a `Value` (Sentinel's
/// SecurityAlert `Entities` column) and objects looked up as [`crate::util::get`] does.
#[derive(Debug)]
pub(crate) enum Tree<'de> {
    /// A scalar (never [`Lit::Array`] or [`Lit::Object`]).
    Lit(Lit<'de>),
    Array(Vec<Tree<'de>>),
    Object(Vec<(Cow<'de, str>, Tree<'de>)>),
}

impl Default for Tree<'_> {
    fn default() -> Self {
        Tree::Lit(Lit::Null)
    }
}

impl<'de> Tree<'de> {
    /// The value as a [`Scalar`].
    pub(crate) fn scalar(&self) -> Scalar<'_> {
        match self {
            Tree::Lit(l) => l.scalar(),
            Tree::Array(_) => Scalar::Array,
            Tree::Object(_) => Scalar::Object,
        }
    }

    /// The member under exactly `key` (`Value::get`).
    pub(crate) fn exact(&self, key: &str) -> Option<&Tree<'de>> {
        let Tree::Object(members) = self else {
            return None;
        };
        let i = members.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        Some(&members[i].1)
    }

    /// The member under `key`, as [`crate::util::get`] finds it: exactly, else the first key
    /// in `Map` order that matches case-insensitively.
    pub(crate) fn member(&self, key: &str) -> Option<&Tree<'de>> {
        let Tree::Object(members) = self else {
            return None;
        };
        self.exact(key).or_else(|| {
            members
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
    }

    /// The value read as [`crate::util::string_list`] reads it.
    pub(crate) fn string_list(&self) -> Vec<String> {
        match self {
            Tree::Array(items) => items
                .iter()
                .filter_map(|x| x.scalar().text())
                .map(str::to_string)
                .collect(),
            Tree::Lit(Lit::Str(s)) => crate::util::split_list(s),
            _ => Vec::new(),
        }
    }

    /// A JSON text read as a tree, or `null` where it is not JSON (as `serde_json::from_str`
    /// into a `Value`, `unwrap_or(Value::Null)`).
    pub(crate) fn parse(text: &'de str) -> Tree<'de> {
        serde_json::from_str(text).unwrap_or_default()
    }
}

impl Node for Tree<'_> {
    fn asc_entity(&self) -> bool {
        self.exact("$id").is_some() && self.exact("Type").is_some()
    }
}

impl crate::util::Props for Tree<'_> {
    fn prop(&self, key: &str) -> Option<Scalar<'_>> {
        self.member(key).map(Tree::scalar)
    }
}

impl<'de> ReadAny<'de> for Tree<'de> {
    fn scalar(l: Lit<'de>) -> Self {
        Tree::Lit(l)
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(x) = seq.next_element()? {
            items.push(x);
        }
        Ok(Tree::Array(items))
    }
    fn map<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Tree<'de>)> = Vec::new();
        while let Some(Key(k)) = map.next_key()? {
            members.push((k, map.next_value()?));
        }
        // `Map` order, the last of a repeated key kept: reversed, a stable sort puts the last
        // occurrence of a key first, and `dedup_by` keeps the first.
        members.reverse();
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|later, kept| later.0 == kept.0);
        Ok(Tree::Object(members))
    }
}

impl<'de> Deserialize<'de> for Tree<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor(PhantomData))
    }
}

// ---------------------------------------------------------------------------------------------
// Views

/// What every view records about the value it was read from.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Meta {
    /// The value was an object (otherwise every field is absent).
    pub(crate) is_object: bool,
    /// The object has both `$id` and `Type` keys.
    pub(crate) asc_entity: bool,
    /// The value of its first key in `Map` order (the smallest) is such an object: a
    /// necessary condition for Sentinel's entities-column shape. Only known for a view that
    /// checks its members.
    pub(crate) first_member_asc_entity: bool,
}

/// A typed view of a JSON object; declared with [`view!`].
pub(crate) trait View<'de>: Default {
    /// The keys the view reads.
    const KEYS: &'static [&'static str];
    /// [`Self::KEYS`] by a hash of their lower-cased bytes.
    const SLOTS: KeySlots = key_slots(Self::KEYS);
    /// Whether [`Meta::first_member_asc_entity`] is needed (only at the top level).
    const CHECKS_MEMBERS: bool;
    /// Reads the value of `KEYS[i]`; whether it is an ASC entity.
    fn field<A: MapAccess<'de>>(&mut self, i: usize, map: &mut A) -> Result<bool, A::Error>;
    fn meta_mut(&mut self) -> &mut Meta;
}

/// An open-addressing table of a view's keys, built at compile time, hashed case-insensitively
/// so that one probe finds the key or a variant of it in another case.
pub(crate) type KeySlots = [u8; 128];
const EMPTY: u8 = u8::MAX;

const fn ci_hash(key: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5; // FNV-1a
    let mut i = 0;
    while i < key.len() {
        h = (h ^ key[i].to_ascii_lowercase() as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    h as usize
}

const fn key_slots(keys: &[&str]) -> KeySlots {
    assert!(keys.len() < 96, "too many keys for one view");
    let mut slots = [EMPTY; 128];
    let mut i = 0;
    while i < keys.len() {
        let mut s = ci_hash(keys[i].as_bytes()) % 128;
        while slots[s] != EMPTY {
            s = (s + 1) % 128;
        }
        slots[s] = i as u8;
        i += 1;
    }
    slots
}

enum Found {
    Key(usize),
    /// A key that differs from one of the view's only in case.
    CaseVariant,
    Other,
}

fn find<'de, T: View<'de>>(key: &str) -> Found {
    let mut s = ci_hash(key.as_bytes()) % 128;
    let mut variant = false;
    loop {
        let i = T::SLOTS[s];
        if i == EMPTY {
            return if variant {
                Found::CaseVariant
            } else {
                Found::Other
            };
        }
        let k = T::KEYS[usize::from(i)];
        if k == key {
            return Found::Key(usize::from(i));
        }
        variant |= k.eq_ignore_ascii_case(key);
        s = (s + 1) % 128;
    }
}

/// Deserializes any JSON value into a view: an object field by field, anything else as an
/// empty view.
pub(crate) struct ViewVisitor<T>(pub(crate) PhantomData<T>);

impl<'de, T: View<'de>> Visitor<'de> for ViewVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    other_values!(|_| T::default());
    fn visit_str<E: de::Error>(self, _: &str) -> Result<T, E> {
        Ok(T::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        skip_seq(seq).map(|()| T::default())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        let (mut id, mut ty) = (false, false);
        // The smallest key so far, and whether its (last) value is an ASC entity.
        let mut first: Option<(Cow<'de, str>, bool)> = None;
        while let Some(Key(key)) = map.next_key()? {
            id |= key == "$id";
            ty |= key == "Type";
            let smallest = T::CHECKS_MEMBERS && first.as_ref().is_none_or(|(k, _)| key <= *k);
            let asc = match find::<T>(&key) {
                Found::Key(i) => out.field(i, &mut map)?,
                Found::CaseVariant => {
                    return Err(decline("a key differs from a known one only in case"))
                }
                Found::Other if smallest => skip_value(&mut map)?,
                Found::Other => map.next_value::<IgnoredAny>().map(|_| false)?,
            };
            if smallest {
                first = Some((key, asc));
            }
        }
        *out.meta_mut() = Meta {
            is_object: true,
            asc_entity: id && ty,
            first_member_asc_entity: first.is_some_and(|(_, asc)| asc),
        };
        Ok(out)
    }
}

/// Skips a value the view does not read, noting whether it is an ASC entity.
fn skip_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<bool, A::Error> {
    struct Seed;
    impl<'de> DeserializeSeed<'de> for Seed {
        type Value = bool;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            Lit::deserialize(d).map(|l| l.asc_entity())
        }
    }
    map.next_value_seed(Seed)
}

/// Declares a view: a struct of `Option` fields, each read from one exact key (see the module
/// documentation for how keys and types are matched). `@checks_members` before `pub(crate)`
/// makes it note whether any member is an ASC entity.
macro_rules! view {
    (
        $(#[$attr:meta])*
        $(@$checks_members:ident)?
        pub(crate) struct $name:ident<'de> {
            $( $key:literal => $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Default)]
        pub(crate) struct $name<'de> {
            pub(crate) meta: $crate::fast::Meta,
            $( pub(crate) $field: Option<$ty>, )*
            _input: std::marker::PhantomData<&'de str>,
        }

        impl<'de> $crate::fast::View<'de> for $name<'de> {
            const KEYS: &'static [&'static str] = &[$($key),*];
            const CHECKS_MEMBERS: bool = $crate::fast::view!(@flag $($checks_members)?);
            fn field<A: serde::de::MapAccess<'de>>(
                &mut self,
                i: usize,
                map: &mut A,
            ) -> Result<bool, A::Error> {
                // The n-th field reads KEYS[n].
                let mut n = 0;
                $(
                    if i == n {
                        let v: $ty = map.next_value()?;
                        let asc = $crate::fast::Node::asc_entity(&v);
                        self.$field = Some(v);
                        return Ok(asc);
                    }
                    n += 1;
                )*
                let _ = n;
                map.next_value::<serde::de::IgnoredAny>().map(|_| false)
            }
            fn meta_mut(&mut self) -> &mut $crate::fast::Meta {
                &mut self.meta
            }
        }

        impl<'de> $crate::fast::Node for $name<'de> {
            fn asc_entity(&self) -> bool {
                self.meta.asc_entity
            }
        }

        impl<'de> serde::Deserialize<'de> for $name<'de> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any($crate::fast::ViewVisitor::<Self>(std::marker::PhantomData))
            }
        }
    };
    (@flag checks_members) => { true };
    (@flag) => { false };
}
pub(crate) use view;

/// Declares a top-level view: a [`view!`] that checks its members and also declines on the
/// keys of shapes the fast path leaves to the `Value` path: an SDK recording
/// `{status_code, data}`, a list response `{value: [...]}`, GetFindings and Security Hub lists
/// and ASFF, other telemetry, Sentinel REST and Log Analytics shapes, Graph incidents and
/// Defender.
macro_rules! top_level_view {
    (
        $(#[$attr:meta])*
        pub(crate) struct $name:ident<'de> { $($fields:tt)* }
    ) => {
        $crate::fast::view! {
            $(#[$attr])*
            @checks_members
            pub(crate) struct $name<'de> {
                $($fields)*
                "status_code" => _status_code: $crate::fast::Decline,
                "value" => _value: $crate::fast::Decline,
                "findings" => _findings: $crate::fast::Decline,
                "ProductArn" => _product_arn: $crate::fast::Decline,
                "Records" => _records: $crate::fast::Decline,
                "properties" => _properties: $crate::fast::Decline,
                "riskEventType" => _risk_event_type: $crate::fast::Decline,
                "riskLastUpdatedDateTime" => _risk_last_updated: $crate::fast::Decline,
                "appDisplayName" => _app_display_name: $crate::fast::Decline,
                "activityDisplayName" => _activity_display_name: $crate::fast::Decline,
                "TimeGenerated" => _time_generated: $crate::fast::Decline,
                "TenantId" => _tenant_id: $crate::fast::Decline,
                "entities" => _entities: $crate::fast::Decline,
                "SystemAlertId" => _system_alert_id: $crate::fast::Decline,
                "incidentName" => _incident_name: $crate::fast::Decline,
                "machineId" => _machine_id: $crate::fast::Decline,
                "computerDnsName" => _computer_dns_name: $crate::fast::Decline,
                "alertCreationTime" => _alert_creation_time: $crate::fast::Decline,
                "AlertId" => _alert_id: $crate::fast::Decline,
            }
        }
    };
}
pub(crate) use top_level_view;

// ---------------------------------------------------------------------------------------------
// Records

top_level_view! {
    /// One record (the top level, an EventBridge `detail`, an event of an Okta hook delivery):
    /// the fields the fast parsers read, and the keys the sources asked before them look at.
    pub(crate) struct Record<'de> {
        // EventBridge envelope.
        "detail" => detail: Box<Record<'de>>,
        "detail-type" => detail_type: Lit<'de>,
        "source" => source: Lit<'de>,
        "resources" => resources: Present, // so that ASFF's `Resources` is a case variant
        // GuardDuty finding.
        "id" => id: Lit<'de>,
        "arn" => arn: Lit<'de>,
        "type" => ty: Lit<'de>,
        "title" => title: Lit<'de>,
        "severity" => severity: Lit<'de>,
        "accountId" => account_id: Lit<'de>,
        "updatedAt" => updated_at: Lit<'de>,
        "createdAt" => created_at: Lit<'de>,
        "resource" => resource: crate::guardduty::ResourceView<'de>,
        "service" => service: crate::guardduty::ServiceView<'de>,
        // Okta System Log event, event hook delivery.
        "eventType" => event_type: Lit<'de>,
        "uuid" => uuid: Lit<'de>,
        "published" => published: Lit<'de>,
        "displayMessage" => display_message: Lit<'de>,
        "actor" => actor: crate::okta::UserView<'de>,
        "target" => target: Seq<crate::okta::UserView<'de>>,
        "client" => client: crate::okta::ClientView<'de>,
        "outcome" => outcome: Present,
        "data" => data: Box<crate::okta::HookDataView<'de>>,
        // Sentinel playbook incident trigger.
        "object" => object: Box<crate::sentinel::IncidentView<'de>>,
        "objectSchemaType" => object_schema_type: Lit<'de>,
        "workspaceId" => workspace_id: Lit<'de>,
        // CloudTrail (telemetry), also relayed by EventBridge (`eventTime` is in Okta hooks too).
        "eventSource" => event_source: Present,
        "eventName" => event_name: Present,
        "eventVersion" => event_version: Present,
        "eventTime" => event_time: Present,
        "userIdentity" => user_identity: Present,
        // Graph security alerts, read by their own view (`crate::graph::AlertView`).
        "@odata.type" => _odata_type: Decline,
        "at_sign_odata_type" => _at_sign_odata_type: Decline,
        "evidence" => _evidence: Decline,
        "serviceSource" => _service_source: Decline,
        "category" => _category: Decline,
        "incidentId" => _incident_id: Decline,
        "incidentWebUrl" => _incident_web_url: Decline,
    }
}

/// Whether Sentinel could recognise a top-level view without an `object` (a playbook trigger):
/// a REST object by its `type`, or an entities column (whose first value is an ASC entity).
pub(crate) fn sentinel_may_claim(ty: &Option<Lit<'_>>, meta: Meta) -> bool {
    Record::str_field(ty).is_some_and(|t| t.to_ascii_lowercase().contains("securityinsights"))
        || meta.first_member_asc_entity
}

impl Record<'_> {
    /// A field that is a string (`Value::as_str`).
    pub(crate) fn str_field<'a>(field: &'a Option<Lit<'_>>) -> Option<&'a str> {
        match field {
            Some(Lit::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// `telemetry::is_cloudtrail`.
    fn is_cloudtrail(&self) -> bool {
        self.event_source.is_some()
            && self.event_name.is_some()
            && (self.event_version.is_some()
                || self.event_time.is_some()
                || self.user_identity.is_some())
    }

    /// Whether the telemetry source could recognise the record (its other shapes have keys the
    /// view declines on).
    fn telemetry_may_claim(&self) -> bool {
        if self.is_cloudtrail() {
            return true;
        }
        let Some(d) = &self.detail else { return false };
        let dt = Self::str_field(&self.detail_type).unwrap_or("");
        dt.contains("via CloudTrail") || d.is_cloudtrail()
    }

    /// Whether Sentinel or Graph (asked before GuardDuty) could recognise it: a Sentinel
    /// envelope or REST object, or an entities column (whose first values are ASC entities);
    /// their other shapes have keys the view declines on.
    fn sentinel_may_claim(&self) -> bool {
        self.object.is_some() || sentinel_may_claim(&self.ty, self.meta)
    }

    /// `guardduty::looks_like_finding` (the view has no `ProductArn` key, nor `Type`,
    /// `Service`, `Resource` or `Resources`: those differ from its own keys only in case).
    pub(crate) fn looks_like_finding(&self) -> bool {
        self.meta.is_object
            && Self::str_field(&self.ty).is_some_and(|t| t.contains(':') && t.contains('/'))
            && (self.service.is_some() || self.resource.is_some())
    }

    /// The finding, when GuardDuty is the source that recognises the record (`guardduty::shape`);
    /// `None` also when GuardDuty would recognise a shape the fast path does not take.
    fn guardduty_finding(&self) -> Option<&Record<'_>> {
        if let Some(detail) = &self.detail {
            let dt = Self::str_field(&self.detail_type);
            let src = Self::str_field(&self.source);
            return (dt == Some("GuardDuty Finding")
                || src == Some("aws.guardduty")
                || detail.looks_like_finding())
            .then_some(&**detail);
        }
        self.looks_like_finding().then_some(self)
    }

    /// Whether GuardDuty or Security Hub (asked before Okta) could recognise it (their other
    /// shapes have keys the view declines on).
    fn guardduty_or_securityhub_may_claim(&self) -> bool {
        self.detail.is_some() || self.looks_like_finding()
    }
}

/// Parses one record (the whole text) on the fast path: the source that recognised it and its
/// outcome, exactly as [`crate::parse_record`] would give them, or `None` when the fast path
/// does not apply.
pub(crate) fn parse(text: &str) -> Option<(&'static str, Result<Vec<Alert>, ParseError>)> {
    let Ok(r) = serde_json::from_str::<Record>(text) else {
        return parse_declined(text);
    };
    if !r.meta.is_object {
        return None;
    }
    if r.telemetry_may_claim() {
        return None;
    }
    if let Some(inc) = r.object.as_ref() {
        let incident = Record::str_field(&inc.ty)
            .is_some_and(|t| crate::sentinel::ends_with_ci(t, "SecurityInsights/Incidents"))
            || Record::str_field(&r.object_schema_type) == Some("Incident");
        if !incident {
            return None;
        }
        return crate::sentinel::parse_trigger_fast(inc, &r).map(|res| ("sentinel", res));
    }
    if r.sentinel_may_claim() {
        return None;
    }
    if let Some(f) = r.guardduty_finding() {
        return crate::guardduty::parse_finding_fast(f, text).map(|res| ("guardduty", res));
    }
    if r.guardduty_or_securityhub_may_claim() {
        return None;
    }
    crate::okta::parse_fast(&r).map(|res| ("okta", res))
}

/// [`parse`] for a text [`Record`] declines: a Log Analytics SecurityAlert row (keys `Type`,
/// `TimeGenerated`) or a Graph security alert v2 (`@odata.type`, `evidence`, ...) has its own
/// view, tried on the texts that name one of the keys it needs. (`Record` does not read Graph's
/// fields, so that GuardDuty findings and Okta events are not slowed by them.)
fn parse_declined(text: &str) -> Option<(&'static str, Result<Vec<Alert>, ParseError>)> {
    let names = |key: &[u8]| memchr::memmem::find(text.as_bytes(), key).is_some();
    if names(b"\"SystemAlertId\"") {
        return crate::sentinel::parse_alert_row_fast(text).map(|res| ("sentinel", res));
    }
    if crate::graph::ALERT_KEYS.iter().any(|k| names(k)) {
        return crate::graph::parse_alert_fast(text).map(|res| ("graph", res));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::Props;

    #[test]
    fn bag_looks_keys_up_like_get() {
        let text = r#"{"accountName":"a","AccountName":"b","ACCOUNTNAME":"c","x":1,"x":2}"#;
        let bag: Bag = serde_json::from_str(text).unwrap();
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        for key in ["accountName", "AccountName", "accountname", "x", "X", "y"] {
            assert_eq!(
                format!("{:?}", bag.prop(key)),
                format!("{:?}", v.prop(key)),
                "{key}"
            );
        }
    }

    #[test]
    fn a_case_variant_of_a_known_key_declines() {
        assert!(serde_json::from_str::<Record>(r#"{"Type":"x"}"#).is_err());
        assert!(serde_json::from_str::<Record>(r#"{"TYPE":"x"}"#).is_err());
        let r: Record = serde_json::from_str(r#"{"type":"a","type":"b","other":{}}"#).unwrap();
        assert_eq!(text(&r.ty), Some("b"));
    }

    #[test]
    fn other_types_read_as_empty_views() {
        let r: Record =
            serde_json::from_str(r#"{"detail":"x","target":{"$id":"1","Type":"a"}}"#).unwrap();
        assert!(!r.detail.as_ref().is_some_and(|d| d.meta.is_object));
        assert!(r.target.as_ref().is_some_and(|t| t.items().is_none()));
        assert!(!r.meta.first_member_asc_entity);
        let r: Record = serde_json::from_str(r#"{"b":1,"a":{"$id":"1","Type":"x"}}"#).unwrap();
        assert!(r.meta.first_member_asc_entity);
    }
}
