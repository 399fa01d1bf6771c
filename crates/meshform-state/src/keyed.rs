//! [`KeyedList`]: the state's lists of resources and of a resource's instances, kept sorted by each
//! item's key so that finding, inserting and removing one costs the logarithm of the state's size
//! (one operation's bookkeeping must not grow with the state), and stored as the JSON list the
//! state document has always had.

use std::collections::btree_map::{self, BTreeMap, Entry};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An item of a [`KeyedList`]: what it is found by.
pub trait Keyed {
    type Key: Ord + Clone;

    fn key(&self) -> Self::Key;

    /// The key as an error message names it (`resource local_file.a`).
    fn describe(key: &Self::Key) -> String;
}

/// Items sorted and unique by [`Keyed::key`].
///
/// An item's key must not change while it is in the list: [`KeyedList::get_mut`] and
/// [`KeyedList::iter_mut`] are for the rest of it. To re-key an item, remove it and insert it again.
#[derive(Clone, PartialEq)]
pub struct KeyedList<T: Keyed>(BTreeMap<T::Key, T>);

impl<T: Keyed> Default for KeyedList<T> {
    fn default() -> Self {
        KeyedList(BTreeMap::new())
    }
}

impl<T: Keyed + fmt::Debug> fmt::Debug for KeyedList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.values()).finish()
    }
}

impl<T: Keyed> KeyedList<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The items in key order.
    pub fn iter(&self) -> btree_map::Values<'_, T::Key, T> {
        self.0.values()
    }

    /// The items in key order, to change anything but their keys.
    pub fn iter_mut(&mut self) -> btree_map::ValuesMut<'_, T::Key, T> {
        self.0.values_mut()
    }

    pub fn first(&self) -> Option<&T> {
        self.0.values().next()
    }

    pub fn get(&self, key: &T::Key) -> Option<&T> {
        self.0.get(key)
    }

    /// The item with `key`, to change anything but its key.
    pub fn get_mut(&mut self, key: &T::Key) -> Option<&mut T> {
        self.0.get_mut(key)
    }

    /// The item with `key`, made by `make` when there is none.
    pub fn get_or_insert_with(&mut self, key: T::Key, make: impl FnOnce() -> T) -> &mut T {
        self.0.entry(key).or_insert_with(make)
    }

    /// Adds `item`, replacing the one with its key; returns the one replaced.
    pub fn insert(&mut self, item: T) -> Option<T> {
        self.0.insert(item.key(), item)
    }

    pub fn remove(&mut self, key: &T::Key) -> Option<T> {
        self.0.remove(key)
    }

    /// Keeps the items for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.0.retain(|_, item| keep(item));
    }

    /// Adds `item` unless one with its key is already there; returns it back then.
    fn insert_new(&mut self, item: T) -> Result<(), T> {
        match self.0.entry(item.key()) {
            Entry::Vacant(slot) => {
                slot.insert(item);
                Ok(())
            }
            Entry::Occupied(_) => Err(item),
        }
    }
}

impl<T: Keyed> FromIterator<T> for KeyedList<T> {
    /// Items with the same key: the last one stays.
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        KeyedList(items.into_iter().map(|i| (i.key(), i)).collect())
    }
}

impl<T: Keyed> From<Vec<T>> for KeyedList<T> {
    fn from(items: Vec<T>) -> Self {
        items.into_iter().collect()
    }
}

impl<'a, T: Keyed> IntoIterator for &'a KeyedList<T> {
    type Item = &'a T;
    type IntoIter = btree_map::Values<'a, T::Key, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.values()
    }
}

impl<'a, T: Keyed> IntoIterator for &'a mut KeyedList<T> {
    type Item = &'a mut T;
    type IntoIter = btree_map::ValuesMut<'a, T::Key, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.values_mut()
    }
}

impl<T: Keyed> IntoIterator for KeyedList<T> {
    type Item = T;
    type IntoIter = btree_map::IntoValues<T::Key, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_values()
    }
}

impl<T: Keyed + Serialize> Serialize for KeyedList<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0.values() {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

/// A list in any order; two items with one key are an error (a document edited by hand), never
/// one silently dropped.
impl<'de, T: Keyed + Deserialize<'de>> Deserialize<'de> for KeyedList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);

        impl<'de, T: Keyed + Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = KeyedList<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = KeyedList::new();
                while let Some(item) = seq.next_element::<T>()? {
                    if let Err(item) = out.insert_new(item) {
                        return Err(serde::de::Error::custom(format_args!(
                            "{} is listed twice; keep one of them",
                            T::describe(&item.key())
                        )));
                    }
                }
                Ok(out)
            }
        }

        deserializer.deserialize_seq(ListVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Item {
        name: String,
        n: u32,
    }

    impl Keyed for Item {
        type Key = String;
        fn key(&self) -> String {
            self.name.clone()
        }
        fn describe(key: &String) -> String {
            format!("item {key}")
        }
    }

    fn item(name: &str, n: u32) -> Item {
        Item { name: name.to_owned(), n }
    }

    #[test]
    fn items_stay_sorted_and_unique_by_key() {
        let mut l: KeyedList<Item> = vec![item("b", 1), item("a", 2)].into();
        assert_eq!(l.insert(item("b", 3)), Some(item("b", 1)));
        l.insert(item("c", 4));
        let names: Vec<&str> = l.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(l.remove(&"a".to_owned()), Some(item("a", 2)));
        assert_eq!(l.get(&"b".to_owned()).map(|i| i.n), Some(3));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn it_is_stored_as_a_sorted_list_and_read_from_any_order() {
        let l: KeyedList<Item> =
            serde_json::from_str(r#"[{"name":"b","n":1},{"name":"a","n":2}]"#).unwrap();
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"[{"name":"a","n":2},{"name":"b","n":1}]"#
        );
    }

    #[test]
    fn a_key_listed_twice_is_refused_not_dropped() {
        let e =
            serde_json::from_str::<KeyedList<Item>>(r#"[{"name":"a","n":1},{"name":"a","n":2}]"#)
                .unwrap_err();
        assert!(e.to_string().contains("item a is listed twice"), "{e}");
    }
}
